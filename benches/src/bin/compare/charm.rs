//! The charm against a Python `ops` charm: one `update-status` on a healthy unit under the
//! Juju simulator (CPU, wall, peak RSS, hook-tool calls), and what each ships.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tmate_benches::{
    DifferenceSummary, Summary, Table, format_count, format_duration, format_signed_nanos,
};
use tmate_ssh_server_charm::testing::FakeUnit;
use tmate_tests::sim::host::TMATE_UNIT;
use tmate_tests::sim::model::ServiceUnit;
use tmate_tests::sim::{
    HookRun, Sim, UpdateStatusMeasurement, healthy_unit, measure_update_status,
};

use crate::{BoxError, cargo, workspace_root};

/// The Python charm's run-time dependencies (the original charm's `requirements.txt`), pinned
/// so a rerun measures the same code: name and version.
const PYTHON_DEPS: &[(&str, &str)] = &[
    ("ops", "3.9.0"),
    ("pydantic", "2.14.4"),
    ("jinja2", "3.1.6"),
];

/// The pip requirement specifiers of [`PYTHON_DEPS`] (`ops==3.9.0`, ...).
fn python_requirements() -> Vec<String> {
    PYTHON_DEPS
        .iter()
        .map(|(name, version)| format!("{name}=={version}"))
        .collect()
}
/// Budgets from the project's performance issue, relative to the Python charm.
const CPU_BUDGET_FRACTION: f64 = 1.0 / 50.0;
/// Peak RSS budget of one `update-status`, KiB.
const RSS_BUDGET_KIB: u64 = 5 * 1024;
/// Hook-tool calls allowed in one `update-status` on a converged unit (the charm issue's budget).
const TOOL_CALL_BUDGET: usize = 3;
/// The files a charm directory shares with ours (the Python charm gets the same metadata).
const METADATA_FILES: &[&str] = &["metadata.yaml", "config.yaml", "actions.yaml"];

/// The part of the Python charms both variants share: the `update-status` checks ours makes
/// (config `port`, the bind address from `network-get`, whether the service runs), then a
/// status. `{imports}`, `{model}` and `{use_model}` are filled per variant.
const PYTHON_CHARM_TEMPLATE: &str = r#"#!/usr/bin/env python3
"""tmate-ssh-server update-status checks on ops, for benchmarking."""
import subprocess
{imports}
import ops
{model}

class TmateSshServerCharm(ops.CharmBase):
    def __init__(self, framework):
        super().__init__(framework)
        framework.observe(self.on.update_status, self._on_update_status)

    def _on_update_status(self, event):
        port = int(self.config["port"])
        binding = self.model.get_binding("juju-info")
        address = binding.network.bind_address if binding else None
        running = subprocess.run(
            ["systemctl", "is-active", "tmate-ssh-server.service"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        ).returncode == 0
        if address is None:
            self.unit.status = ops.WaitingStatus("Waiting for unit address.")
            return
{use_model}
        if not running or not 0 < port < 65536:
            self.unit.status = ops.MaintenanceStatus("Restarting tmate-ssh-server.")
        else:
            self.unit.status = ops.ActiveStatus()


if __name__ == "__main__":
    ops.main(TmateSshServerCharm)
"#;

/// The second variant's additions: like the original charm, it loads its state into a
/// pydantic model and renders the unit with a jinja2 template on every hook (written for
/// this benchmark, not copied from the original).
const PYTHON_MODEL: &str = r#"
import ipaddress


class State(pydantic.BaseModel):
    ip_addr: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int = pydantic.Field(gt=0, lt=65536)


UNIT = jinja2.Environment(autoescape=False).from_string(
    "ExecStart=/usr/bin/docker run --rm --name tmate-ssh-server --net=host "
    "--volume /var/lib/tmate-ssh-server/keys:/keys:ro "
    "--entrypoint /srv/tmate-ssh-server/tmate-ssh-server {{ image }} "
    "-A -h {{ state.ip_addr }} -p {{ state.port }} -k /keys\n"
)
"#;

/// How the second variant uses [`PYTHON_MODEL`] in the handler.
const PYTHON_USE_MODEL: &str = r#"        state = State(ip_addr=str(address), port=port)
        UNIT.render(state=state, image=self.config["image"])"#;

/// A Python charm variant measured against ours.
struct PythonVariant {
    label: &'static str,
    dir: &'static str,
    source: String,
}

fn python_variants() -> [PythonVariant; 2] {
    let fill = |imports: &str, model: &str, use_model: &str| {
        PYTHON_CHARM_TEMPLATE
            .replace("{imports}", imports)
            .replace("{model}", model)
            .replace("{use_model}", use_model)
    };
    [
        PythonVariant {
            label: "Python ops charm, minimal (imports ops only)",
            dir: "python-charm-minimal",
            source: fill("", "", ""),
        },
        PythonVariant {
            label: "Python ops charm + pydantic state + jinja2 unit (as the original)",
            dir: "python-charm-typical",
            source: fill(
                "\nimport jinja2\nimport pydantic",
                PYTHON_MODEL,
                PYTHON_USE_MODEL,
            ),
        },
    ]
}

/// What a measured subject is, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A charm: its total is compared.
    Charm,
    /// The replay of a charm's calls: the floor of the charm before it.
    Floor,
    /// A `/bin/sh` dispatch that exits at once: what starting a dispatch costs.
    EmptyShell,
}

/// One deployed unit measured round after round.
struct Subject {
    label: String,
    role: Role,
    sim: Sim,
    /// The hook-tool calls and host commands every measured run must make (the ones its
    /// replay makes), or `None` for a replay itself.
    expected: Option<Vec<String>>,
    runs: Vec<UpdateStatusMeasurement>,
}

impl Subject {
    fn new(label: impl Into<String>, role: Role, sim: Sim) -> Self {
        Self {
            label: label.into(),
            role,
            sim,
            expected: None,
            runs: Vec::new(),
        }
    }

    /// One unmeasured `update-status` (warm page cache, the unit's own state in place);
    /// returns the run.
    fn warm_up(&mut self) -> Result<HookRun, BoxError> {
        measure_update_status(&mut self.sim)?;
        Ok(self
            .sim
            .runs()
            .last()
            .ok_or("no update-status run")?
            .clone())
    }

    /// One measured `update-status`; a charm must make the calls its floor replays.
    fn measure(&mut self) -> Result<(), BoxError> {
        let m = measure_update_status(&mut self.sim)?;
        if let Some(expected) = &self.expected {
            let run = self.sim.runs().last().ok_or("no update-status run")?;
            let made = call_lines(run);
            if &made != expected {
                return Err(format!(
                    "{} made other calls than in its warm-up run, which its floor replays:\n\
                     warm-up: {expected:?}\nnow: {made:?}",
                    self.label
                )
                .into());
            }
        }
        self.runs.push(m);
        Ok(())
    }

    fn cpu(&self) -> Vec<Duration> {
        self.runs.iter().map(|m| m.cpu).collect()
    }

    fn wall(&self) -> Vec<Duration> {
        self.runs.iter().map(|m| m.wall).collect()
    }

    fn peak_rss_kib(&self) -> u64 {
        self.runs.iter().map(|m| m.peak_rss_kib).max().unwrap_or(0)
    }

    /// The peak RSS when it is the dispatch process's own (larger than every fake tool's).
    fn own_peak_rss_kib(&self) -> Option<u64> {
        let tool_peak = self
            .runs
            .iter()
            .map(|m| m.tool_peak_rss_kib)
            .max()
            .unwrap_or(0);
        let peak = self.peak_rss_kib();
        (peak > tool_peak).then_some(peak)
    }

    fn tool_calls(&self) -> usize {
        self.runs.iter().map(|m| m.tool_calls).max().unwrap_or(0)
    }

    fn host_calls(&self) -> usize {
        self.runs.iter().map(|m| m.host_calls).max().unwrap_or(0)
    }
}

/// The hook-tool calls and host commands of `run`, one line each, in order.
fn call_lines(run: &HookRun) -> Vec<String> {
    run.calls
        .iter()
        .map(|c| format!("{} {}", c.tool, c.args.join(" ")))
        .chain(run.host_calls.iter().map(|h| h.argv.join(" ")))
        .collect()
}

/// A `/bin/sh` dispatch that makes the hook-tool calls and host commands of `run`, with the
/// same arguments, and nothing else; a tool that read its standard input gets the same text
/// from a file next to the script. Returns the script and those files (name, content).
fn replay_charm(run: &HookRun) -> (String, Vec<(String, String)>) {
    let quote = |a: &str| format!("'{}'", a.replace('\'', r"'\''"));
    let mut script = String::from("#!/bin/sh\n");
    let mut files = Vec::new();
    for call in &run.calls {
        let argv: Vec<String> = std::iter::once(call.tool.as_str())
            .chain(call.args.iter().map(String::as_str))
            .map(quote)
            .collect();
        let stdin = match &call.stdin {
            Some(text) => {
                let name = format!("stdin-{}", files.len());
                files.push((name.clone(), text.clone()));
                name
            }
            None => "/dev/null".to_owned(),
        };
        let _ = writeln!(
            script,
            "{} <{stdin} >/dev/null 2>&1 || true",
            argv.join(" ")
        );
    }
    for host in &run.host_calls {
        let argv: Vec<String> = host.argv.iter().map(|a| quote(a)).collect();
        let _ = writeln!(
            script,
            "{} </dev/null >/dev/null 2>&1 || true",
            argv.join(" ")
        );
    }
    script.push_str("exit 0\n");
    (script, files)
}

/// Marks the tmate unit running on `sim`'s host, as on the converged unit of this charm (so
/// every `systemctl is-active` sees the same healthy service).
fn arrange_running_service(sim: &mut Sim) -> Result<(), BoxError> {
    sim.arrange(|st| {
        st.host.units.insert(
            TMATE_UNIT.to_owned(),
            ServiceUnit {
                enabled: true,
                active: "active".to_owned(),
                starts: 1,
                ..ServiceUnit::default()
            },
        );
    })?;
    Ok(())
}

/// Deploys a shell-script charm (our metadata) under the simulator, related like the others,
/// with the service running.
fn script_sim(
    script: &str,
    files: &[(String, String)],
    dir: &Path,
    tool: &Path,
) -> Result<Sim, BoxError> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::create_dir_all(dir)?;
    let ours = workspace_root().join("charm");
    for file in METADATA_FILES {
        fs::copy(ours.join(file), dir.join(file))?;
    }
    for (name, content) in files {
        fs::write(dir.join(name), content)?;
    }
    write_executable(&dir.join("dispatch"), script)?;
    let mut sim = Sim::from_dir(dir, tool)?;
    sim.deploy()?;
    sim.relate("debug-ssh", "github-runner", &["github-runner/0"])?;
    arrange_running_service(&mut sim)?;
    Ok(sim)
}

fn write_executable(path: &Path, text: &str) -> Result<(), BoxError> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::write(path, text)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// Deploys one Python variant under the simulator, related like ours, on a host whose
/// service is running.
fn python_sim(
    variant: &PythonVariant,
    work: &Path,
    deps: &Path,
    python: &Path,
    tool: &Path,
) -> Result<Sim, BoxError> {
    let dir = work.join(variant.dir);
    python_charm(&dir, &variant.source, deps, python)?;
    let mut sim = Sim::from_dir(&dir, tool)?;
    let deployed = sim.deploy()?;
    if let Some(failed) = deployed.iter().find(|r| !r.succeeded()) {
        return Err(format!(
            "the {} failed a deploy hook: {}",
            variant.label, failed.stderr
        )
        .into());
    }
    sim.relate("debug-ssh", "github-runner", &["github-runner/0"])?;
    // The same healthy host as ours: the service the checks look at is running.
    arrange_running_service(&mut sim)?;
    Ok(sim)
}

/// Installs the Python dependencies into `dir` as a charm's `venv/` holds them (once).
fn python_deps(dir: &Path) -> Result<(), BoxError> {
    let marker = dir.join(".bench-complete");
    let requirements = python_requirements().join("\n");
    // Installed before with the same pins: reuse it.
    if fs::read_to_string(&marker).is_ok_and(|text| text == requirements) {
        return Ok(());
    }
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    eprintln!(
        "compare: pip install --target {} {}",
        dir.display(),
        python_requirements().join(" ")
    );
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-warn-conflicts",
            "--target",
        ])
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .arg(dir)
        .args(python_requirements())
        .status()
        .map_err(|e| format!("python3 -m pip: {e} (install python3 and pip)"))?;
    if !status.success() {
        return Err(format!(
            "pip install {} failed ({status})",
            python_requirements().join(" ")
        )
        .into());
    }
    fs::write(marker, requirements)?;
    Ok(())
}

/// `sys.executable` of `python3` on PATH (the charm's dispatch runs it by absolute path,
/// because the simulator's hook environment has a minimal PATH).
fn python_executable() -> Result<(PathBuf, String), BoxError> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys; print(sys.executable); print(sys.version.split()[0])",
        ])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    let text = String::from_utf8(out.stdout)?;
    let mut lines = text.lines();
    let exe = lines.next().ok_or("python3 printed no sys.executable")?;
    let version = lines.next().unwrap_or("unknown").to_owned();
    Ok((PathBuf::from(exe), version))
}

/// Version of an installed distribution in `deps`, from its `.dist-info` directory name.
fn dist_version(deps: &Path, name: &str) -> String {
    let prefix = format!("{name}-");
    fs::read_dir(deps)
        .ok()
        .and_then(|entries| {
            entries.flatten().find_map(|e| {
                let file = e.file_name().to_string_lossy().into_owned();
                let rest = file.strip_prefix(&prefix)?.strip_suffix(".dist-info")?;
                Some(rest.to_owned())
            })
        })
        .unwrap_or_else(|| "?".to_owned())
}

/// Writes the Python charm directory: our metadata, `src/charm.py`, and a `dispatch` like
/// charmcraft's (`PYTHONPATH=lib:venv python3 ./src/charm.py`).
fn python_charm(dir: &Path, source: &str, deps: &Path, python: &Path) -> Result<(), BoxError> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::create_dir_all(dir.join("src"))?;
    let ours = workspace_root().join("charm");
    for file in METADATA_FILES {
        fs::copy(ours.join(file), dir.join(file))?;
    }
    fs::write(dir.join("src/charm.py"), source)?;
    let dispatch = format!(
        "#!/bin/sh\nJUJU_DISPATCH_PATH=\"${{JUJU_DISPATCH_PATH:-$0}}\" PYTHONPATH={} exec {} ./src/charm.py\n",
        deps.display(),
        python.display()
    );
    write_executable(&dir.join("dispatch"), &dispatch)
}

/// Total size of the regular files under `dir`, and their count (apparent sizes, as
/// `du --apparent-size -b`).
fn tree_size(dir: &Path) -> Result<(u64, usize), BoxError> {
    let mut total = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                total.0 += entry.metadata()?.len();
                total.1 += 1;
            }
        }
    }
    Ok(total)
}

/// Size of `dir` zipped with deflate by Python's `shutil.make_archive` (what a packed
/// charm's `venv/` costs in the `.charm` file, roughly).
fn zipped_size(dir: &Path, work: &Path) -> Result<u64, BoxError> {
    let base = work.join("pydeps-zip");
    let status = Command::new("python3")
        .args([
            "-c",
            "import shutil, sys; shutil.make_archive(sys.argv[1], 'zip', sys.argv[2])",
        ])
        .arg(&base)
        .arg(dir)
        .status()?;
    if !status.success() {
        return Err("python3 shutil.make_archive failed".into());
    }
    let zip = base.with_extension("zip");
    let size = fs::metadata(&zip)?.len();
    fs::remove_file(zip).ok();
    Ok(size)
}

fn mib(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss, reason = "sizes are far below 2^52")]
    let m = bytes as f64 / (1024.0 * 1024.0);
    format!("{m:.2} MiB")
}

fn kib_as_mib(kib: u64) -> String {
    mib(kib * 1024)
}

/// In-process `update-status` reconciles of a healthy unit timed for the report (each on a
/// fresh converged unit of the charm's in-memory fakes).
const IN_PROCESS_RUNS: usize = 1001;

/// Times `update-status` in-process on fresh converged units of the charm's fakes: the
/// charm's reconcile without process start-up or hook tools.
fn in_process_update_status() -> Result<Summary, BoxError> {
    // The charm's errors are `Send + Sync`; this binary's are not.
    let plain = |e: Box<dyn std::error::Error + Send + Sync>| -> BoxError { e };
    let mut times = Vec::with_capacity(IN_PROCESS_RUNS);
    for _ in 0..IN_PROCESS_RUNS {
        let unit = FakeUnit::deployed("10.0.0.5").map_err(plain)?;
        let start = Instant::now();
        let result = unit.run_hook("update-status");
        times.push(start.elapsed());
        result.map_err(plain)?;
        let calls = unit.juju.calls();
        if calls.len() > TOOL_CALL_BUDGET || !unit.host.changes().is_empty() {
            return Err(format!("in-process update-status left the fast path: {calls:?}").into());
        }
    }
    Ok(Summary::of(&times).ok_or("no runs")?)
}

/// `ours / theirs` of two signed medians, or `None` when either is not above zero.
fn ratio_ns(ours: i128, theirs: i128) -> Option<f64> {
    #[allow(
        clippy::cast_precision_loss,
        reason = "nanoseconds of a hook, far below 2^52"
    )]
    (ours > 0 && theirs > 0).then(|| ours as f64 / theirs as f64)
}

/// `0.0524 (1/19.1)`, or `n/a` when there is no ratio.
fn format_ratio(ratio: Option<f64>) -> String {
    ratio.map_or_else(
        || "n/a".to_owned(),
        |r| format!("{r:.4} (1/{:.1})", 1.0 / r),
    )
}

/// `19.1x`, the inverse of a ratio, or `n/a`.
fn format_times(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "n/a".to_owned(), |r| format!("{:.1}x", 1.0 / r))
}

/// Measures this charm, the Python charms and their floors, interleaved, and appends the
/// section to `report`.
pub(crate) fn section(
    report: &mut String,
    target: &Path,
    work: &Path,
    rounds: usize,
) -> Result<(), BoxError> {
    let root = workspace_root();
    eprintln!("compare: packing the charm and building the simulator");
    cargo(&root, &["xtask", "charm"])?;
    cargo(
        &root,
        &[
            "build",
            "--release",
            "--locked",
            "-p",
            "tmate-tests",
            "--bin",
            "juju-sim-tool",
        ],
    )?;
    let tool = target.join("release/juju-sim-tool");
    let packed = target.join("charm/tmate-ssh-server.charm");

    eprintln!("compare: deploying this charm, the Python charms and their floors");
    let mut subjects = Vec::new();
    let mut ours = Subject::new(
        "this charm (Rust)",
        Role::Charm,
        healthy_unit(&packed, &tool)?,
    );
    let warm = ours.warm_up()?;
    ours.expected = Some(call_lines(&warm));
    let mut replays = vec![replay_charm(&warm)];
    subjects.push(ours);

    let deps = target.join("bench-pydeps");
    python_deps(&deps)?;
    let (python, python_version) = python_executable()?;
    for variant in python_variants() {
        let sim = python_sim(&variant, work, &deps, &python, &tool)?;
        let mut theirs = Subject::new(variant.label, Role::Charm, sim);
        let warm = theirs.warm_up()?;
        theirs.expected = Some(call_lines(&warm));
        replays.push(replay_charm(&warm));
        subjects.push(theirs);
    }
    // Each charm is followed by its floor.
    let charms = std::mem::take(&mut subjects);
    for (i, (charm, (script, files))) in charms.into_iter().zip(replays).enumerate() {
        let sim = script_sim(&script, &files, &work.join(format!("floor-{i}")), &tool)?;
        let mut floor = Subject::new(format!("floor of {}", charm.label), Role::Floor, sim);
        floor.warm_up()?;
        subjects.push(charm);
        subjects.push(floor);
    }
    let sim = script_sim("#!/bin/sh\nexit 0\n", &[], &work.join("empty-shell"), &tool)?;
    let mut empty = Subject::new(
        "reference: a `/bin/sh` dispatch that exits at once",
        Role::EmptyShell,
        sim,
    );
    empty.warm_up()?;
    subjects.push(empty);

    eprintln!(
        "compare: update-status, {rounds} interleaved rounds of {} units",
        subjects.len()
    );
    for round in 0..rounds {
        // The order rotates every round, so no unit always runs right after the same one.
        for k in 0..subjects.len() {
            let i = (round + k) % subjects.len();
            subjects[i].measure()?;
        }
    }
    for subject in &subjects {
        if subject.role == Role::Charm {
            let status = subject.sim.display_status()?;
            if status.status != "active" {
                return Err(format!("{} is not active: {status:?}", subject.label).into());
            }
        }
    }
    eprintln!("compare: in-process update-status, {IN_PROCESS_RUNS} runs");
    let in_process = in_process_update_status()?;

    // (charm, its floor) pairs, ours first.
    let pairs: Vec<(&Subject, &Subject)> = subjects
        .iter()
        .zip(subjects.iter().skip(1))
        .filter(|(c, f)| c.role == Role::Charm && f.role == Role::Floor)
        .collect();
    let empty = subjects
        .iter()
        .find(|s| s.role == Role::EmptyShell)
        .ok_or("no reference run")?;
    let summary = |d: &[Duration]| Summary::of(d).ok_or("no runs");
    let own = |(c, f): (&Subject, &Subject)| {
        DifferenceSummary::of(&c.cpu(), &f.cpu()).ok_or("unpaired runs")
    };

    let ops_version = dist_version(&deps, "ops");
    writeln!(
        report,
        "## `update-status` on a healthy unit: this charm vs Python `ops` charms\n"
    )?;
    writeln!(
        report,
        "All units run under the project's Juju simulator (`tests/src/sim`: fake hook tools \
         and host commands, the release build of `juju-sim-tool` built by this run). This \
         charm: the packed `target/charm/tmate-ssh-server.charm`, deployed, related to \
         `github-runner/0`, converged. Python: two charms written for this benchmark on `ops` \
         {ops_version} (Python {python_version}, dependencies on `PYTHONPATH` as charmcraft's \
         `dispatch` sets it) with the same metadata, deployed and related the same way, on a \
         host whose service is running. Both make the checks ours makes (config `port`, \
         `network-get`, `systemctl is-active`) and set a status; the second also loads a \
         pydantic state model and renders the unit with jinja2 on every hook, as the original \
         charm does. Neither is the original charm, which does more work per hook (a lower \
         bound, then).\n"
    )?;
    writeln!(
        report,
        "Every unit below (the charms, their floors and the reference) ran one unmeasured \
         `update-status`, then {rounds} rounds of one measured `update-status` each, the order \
         rotating every round, so a busy moment of the shared machine hits all alike. CPU is \
         user + system time of the hook's whole process tree, read by the simulator's wrapper \
         with `getrusage(RUSAGE_CHILDREN)` (µs resolution). Columns:\n"
    )?;
    writeln!(
        report,
        "- **total CPU**: the charm's `dispatch` and every fake hook tool and host command it \
         ran, i.e. what the hook costs under the simulator.\n\
         - **tool floor**: the same measurement of a `/bin/sh` `dispatch` (same metadata, \
         relation and running service) that makes exactly the hook-tool calls and host \
         commands the charm made in its unmeasured run, with the same arguments, and nothing \
         else; every measured run of the charm is checked to make those same calls. It is the \
         cost of the simulator's fake tools and their process start, plus one `/bin/sh`.\n\
         - **own CPU**: total minus floor, per round (the charm's run minus its floor's run of \
         the same round), then median, min and max over the rounds: the charm's own code and \
         process start, less one `/bin/sh` start (the reference row), which the floor \
         includes. Python's own `dispatch` is a `/bin/sh` script that `exec`s Python, so for \
         it the two cancel; this charm starts no shell, so its own CPU is understated by up to \
         the reference row. A minimum below zero is noise.\n"
    )?;
    let mut table = Table::new([
        "unit",
        "rounds",
        "total CPU median",
        "total min",
        "total max",
        "tool floor median",
        "floor min",
        "floor max",
        "own CPU median",
        "own min",
        "own max",
    ]);
    for &(charm, floor) in &pairs {
        let (t, f, o) = (
            summary(&charm.cpu())?,
            summary(&floor.cpu())?,
            own((charm, floor))?,
        );
        table.row([
            charm.label.clone(),
            t.runs.to_string(),
            format_duration(t.median),
            format_duration(t.min),
            format_duration(t.max),
            format_duration(f.median),
            format_duration(f.min),
            format_duration(f.max),
            format_signed_nanos(o.median_ns),
            format_signed_nanos(o.min_ns),
            format_signed_nanos(o.max_ns),
        ]);
    }
    let e = summary(&empty.cpu())?;
    let dash = || "-".to_owned();
    table.row([
        empty.label.clone(),
        e.runs.to_string(),
        format_duration(e.median),
        format_duration(e.min),
        format_duration(e.max),
        dash(),
        dash(),
        dash(),
        dash(),
        dash(),
        dash(),
    ]);
    writeln!(report, "{table}")?;

    let mut table = Table::new([
        "unit",
        "wall median",
        "peak RSS (max)",
        "hook-tool calls",
        "host commands",
    ]);
    for subject in &subjects {
        table.row([
            subject.label.clone(),
            format_duration(summary(&subject.wall())?.median),
            kib_as_mib(subject.peak_rss_kib()),
            subject.tool_calls().to_string(),
            subject.host_calls().to_string(),
        ]);
    }
    writeln!(
        report,
        "Wall time (the wrapper's, from spawning `dispatch` to its exit), the largest single \
         process of the hook (the charm or a fake tool) and the calls, per unit:\n"
    )?;
    writeln!(report, "{table}")?;
    writeln!(
        report,
        "The calls each charm made in every run (what its floor replays, in this order; the \
         hook tools first, then the host commands):\n"
    )?;
    for &(charm, _) in &pairs {
        let calls = charm
            .expected
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|line| format!("`{}`", line.trim_end()))
            .collect::<Vec<_>>()
            .join(", ");
        writeln!(report, "- {}: {calls}", charm.label)?;
    }
    writeln!(report)?;

    let (ours, ours_floor) = *pairs.first().ok_or("this charm was not measured")?;
    let ours_total = summary(&ours.cpu())?;
    let ours_own = own((ours, ours_floor))?;
    let met = |ok: bool| if ok { "met" } else { "not met" };
    let mut table = Table::new([
        "this charm vs",
        "total CPU, ours/theirs",
        "total CPU, theirs/ours",
        "own CPU, ours/theirs",
        "own CPU, theirs/ours",
    ]);
    let mut budgets = String::new();
    for &(theirs, theirs_floor) in &pairs[1..] {
        let their_total = summary(&theirs.cpu())?;
        let total_ratio = ratio_ns(
            ours_total.median.as_nanos().cast_signed(),
            their_total.median.as_nanos().cast_signed(),
        );
        let own_ratio = ratio_ns(ours_own.median_ns, own((theirs, theirs_floor))?.median_ns);
        table.row([
            theirs.label.clone(),
            format_ratio(total_ratio),
            format_times(total_ratio),
            format_ratio(own_ratio),
            format_times(own_ratio),
        ]);
        let within = |r: Option<f64>| met(r.is_some_and(|r| r <= CPU_BUDGET_FRACTION));
        writeln!(
            budgets,
            "- CPU <= 1/50 of the {}: total CPU **{}**, own CPU **{}**; peak RSS {:.1} times \
             smaller.",
            theirs.label,
            within(total_ratio),
            within(own_ratio),
            theirs.peak_rss_kib() as f64 / ours.peak_rss_kib().max(1) as f64,
        )?;
    }
    writeln!(
        report,
        "Ratios of the medians above (ours/theirs below 1: this charm costs less; theirs/ours: \
         how many times more the Python charm costs):\n"
    )?;
    writeln!(report, "{table}")?;
    write!(report, "{budgets}")?;
    writeln!(
        report,
        "- peak RSS <= 5 MiB: **{}** ({}{}); hook-tool calls <= {TOOL_CALL_BUDGET}: **{}** ({}).\n",
        met(ours.peak_rss_kib() <= RSS_BUDGET_KIB),
        kib_as_mib(ours.peak_rss_kib()),
        match ours.own_peak_rss_kib() {
            Some(_) => ", the charm process itself",
            None => ", a fake hook tool; the charm itself used less",
        },
        met(ours.tool_calls() <= TOOL_CALL_BUDGET),
        ours.tool_calls()
    )?;
    #[allow(
        clippy::cast_precision_loss,
        reason = "nanoseconds of a hook, far below 2^52"
    )]
    let share = (ours_own.median_ns > 0)
        .then(|| in_process.median.as_nanos() as f64 / ours_own.median_ns as f64 * 100.0);
    writeln!(
        report,
        "The reconcile itself, run in-process on a converged unit of the charm's in-memory \
         fakes (`tmate_ssh_server_charm::testing::FakeUnit`: no process, no hook tools), takes \
         {} (median wall time of {IN_PROCESS_RUNS} runs; min {}, max {}){}. The rest of this \
         charm's own CPU is starting its process, taking the dispatch lock and spawning and \
         waiting for the tools. `cargo bench -p tmate-benches --bench reconcile` measures the \
         in-process reconcile with divan.\n",
        format_duration(in_process.median),
        format_duration(in_process.min),
        format_duration(in_process.max),
        share.map_or_else(String::new, |p| format!(
            ", {p:.1}% of its own CPU median above"
        )),
    )?;

    // What each ships.
    let packed_size = fs::metadata(&packed)?.len();
    let dispatch_size = fs::metadata(target.join("release/dispatch"))?.len();
    let (deps_bytes, deps_files) = tree_size(&deps)?;
    let deps_zip = zipped_size(&deps, work)?;
    writeln!(report, "## What the charm ships\n")?;
    writeln!(
        report,
        "This charm: the packed `.charm` (zip: metadata, actions, config, the `dispatch` \
         binary). The Python charm's dependencies ({}, the original charm's requirements) \
         installed with `python3 -m pip install --target DIR`, as a charm's `venv/` holds \
         them, measured unpacked (sum of file sizes) and zipped with deflate; the charm's own \
         code and a Python interpreter (needed on the machine) are not counted.\n",
        python_requirements().join(", ")
    )?;
    let mut table = Table::new(["what", "files", "size", "zipped"]);
    table.row([
        "this charm: `dispatch` binary / `tmate-ssh-server.charm`".to_owned(),
        "1".to_owned(),
        mib(dispatch_size),
        mib(packed_size),
    ]);
    table.row([
        format!(
            "Python deps: {}",
            PYTHON_DEPS
                .iter()
                .map(|(name, _)| format!("{name} {}", dist_version(&deps, name)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        format_count(deps_files),
        mib(deps_bytes),
        mib(deps_zip),
    ]);
    writeln!(report, "{table}")?;
    #[allow(clippy::cast_precision_loss, reason = "sizes are far below 2^52")]
    let ratio = deps_zip as f64 / packed_size as f64;
    writeln!(
        report,
        "The Python dependencies alone, zipped, are {ratio:.1} times the packed charm.\n"
    )?;
    Ok(())
}
