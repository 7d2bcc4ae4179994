//! The charm against a Python `ops` charm: one `update-status` on a healthy unit under the
//! Juju simulator (CPU, wall, peak RSS, hook-tool calls), and what each ships.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tmate_benches::{Summary, Table, format_count, format_duration};
use tmate_tests::sim::host::TMATE_UNIT;
use tmate_tests::sim::model::ServiceUnit;
use tmate_tests::sim::{
    HookRun, Sim, UpdateStatusMeasurement, healthy_unit, measure_update_status,
};

use crate::{BoxError, cargo, workspace_root};

/// The Python charm's run-time dependencies (the original charm's `requirements.txt`).
const PYTHON_DEPS: &[&str] = &["ops", "pydantic", "jinja2"];
/// Budgets from the project's performance issue, relative to the Python charm.
const CPU_BUDGET_FRACTION: f64 = 1.0 / 50.0;
/// Peak RSS budget of one `update-status`, KiB.
const RSS_BUDGET_KIB: u64 = 5 * 1024;
/// Hook-tool calls allowed in one `update-status` on a converged unit (CHARM_CONTRACT.md).
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

/// Measured `update-status` runs of one charm.
struct Runs {
    cpu: Summary,
    wall: Summary,
    peak_rss_kib: u64,
    own_peak_rss_kib: Option<u64>,
    tool_calls: usize,
    host_calls: usize,
}

fn measure(sim: &mut Sim, runs: usize) -> Result<Runs, BoxError> {
    // One unmeasured run first: page cache and the charm's own state are warm for both.
    measure_update_status(sim)?;
    let mut all: Vec<UpdateStatusMeasurement> = Vec::with_capacity(runs);
    for _ in 0..runs {
        all.push(measure_update_status(sim)?);
    }
    let cpu: Vec<Duration> = all.iter().map(|m| m.cpu).collect();
    let wall: Vec<Duration> = all.iter().map(|m| m.wall).collect();
    let peak = all.iter().map(|m| m.peak_rss_kib).max().unwrap_or(0);
    let tool_peak = all.iter().map(|m| m.tool_peak_rss_kib).max().unwrap_or(0);
    Ok(Runs {
        cpu: Summary::of(&cpu).ok_or("no runs")?,
        wall: Summary::of(&wall).ok_or("no runs")?,
        peak_rss_kib: peak,
        // The wrapper reports the largest process of the tree; when that is larger than every
        // fake tool, it is the charm itself.
        own_peak_rss_kib: (peak > tool_peak).then_some(peak),
        tool_calls: all.iter().map(|m| m.tool_calls).max().unwrap_or(0),
        host_calls: all.iter().map(|m| m.host_calls).max().unwrap_or(0),
    })
}

/// A `/bin/sh` dispatch that makes the hook-tool calls and host commands of `run`, with the
/// same arguments, and nothing else.
fn replay_script(run: &HookRun) -> String {
    let quote = |a: &str| format!("'{}'", a.replace('\'', r"'\''"));
    let mut script = String::from("#!/bin/sh\n");
    let commands = run
        .calls
        .iter()
        .map(|c| {
            std::iter::once(c.tool.as_str())
                .chain(c.args.iter().map(String::as_str))
                .map(quote)
                .collect::<Vec<_>>()
        })
        .chain(
            run.host_calls
                .iter()
                .map(|h| h.argv.iter().map(|a| quote(a)).collect()),
        );
    for argv in commands {
        script.push_str(&argv.join(" "));
        script.push_str(" </dev/null >/dev/null || true\n");
    }
    script.push_str("exit 0\n");
    script
}

/// Deploys a shell-script charm under the simulator and measures its `update-status`.
fn measure_script(script: &str, work: &Path, tool: &Path, runs: usize) -> Result<Runs, BoxError> {
    let dir = work.join("replay-charm");
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(&dir)?;
    let ours = workspace_root().join("charm");
    for file in METADATA_FILES {
        fs::copy(ours.join(file), dir.join(file))?;
    }
    write_executable(&dir.join("dispatch"), script)?;
    let mut sim = Sim::from_dir(&dir, tool)?;
    sim.deploy()?;
    sim.relate("debug-ssh", "github-runner", &["github-runner/0"])?;
    measure(&mut sim, runs)
}

fn write_executable(path: &Path, text: &str) -> Result<(), BoxError> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::write(path, text)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// Deploys one Python variant under the simulator, makes its host healthy and measures it.
fn measure_python(
    variant: &PythonVariant,
    work: &Path,
    deps: &Path,
    python: &Path,
    tool: &Path,
    runs: usize,
) -> Result<Runs, BoxError> {
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
    let measured = measure(&mut sim, runs)?;
    let status = sim.display_status()?;
    if status.status != "active" {
        return Err(format!("the {} did not reach active: {status:?}", variant.label).into());
    }
    Ok(measured)
}

/// Installs the Python dependencies into `dir` as a charm's `venv/` holds them (once).
fn python_deps(dir: &Path) -> Result<(), BoxError> {
    let marker = dir.join(".bench-complete");
    if marker.is_file() {
        return Ok(());
    }
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    eprintln!(
        "compare: pip install --target {} {}",
        dir.display(),
        PYTHON_DEPS.join(" ")
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
        .args(PYTHON_DEPS)
        .status()
        .map_err(|e| format!("python3 -m pip: {e} (install python3 and pip)"))?;
    if !status.success() {
        return Err(format!("pip install {} failed ({status})", PYTHON_DEPS.join(" ")).into());
    }
    fs::write(marker, PYTHON_DEPS.join("\n"))?;
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

/// Measures both charms and appends the section to `report`.
pub(crate) fn section(
    report: &mut String,
    target: &Path,
    work: &Path,
    runs: usize,
    python_runs: usize,
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

    eprintln!("compare: update-status of the charm, {runs} runs");
    let mut ours_sim = healthy_unit(&packed, &tool)?;
    let ours = measure(&mut ours_sim, runs)?;
    let replay = replay_script(ours_sim.runs().last().ok_or("no update-status run")?);
    drop(ours_sim);
    eprintln!("compare: update-status floor (/bin/sh replaying the same calls), {runs} runs");
    let floor = measure_script(&replay, work, &tool, runs)?;

    let deps = target.join("bench-pydeps");
    python_deps(&deps)?;
    let (python, python_version) = python_executable()?;
    let floor_cpu = floor.cpu.median;
    let mut rows: Vec<(String, Runs, usize)> = vec![
        ("this charm (Rust)".to_owned(), ours, runs),
        (
            "floor: `/bin/sh` making the same hook-tool calls and host commands".to_owned(),
            floor,
            runs,
        ),
    ];
    for variant in python_variants() {
        eprintln!(
            "compare: update-status of the {}, {python_runs} runs",
            variant.label
        );
        rows.push((
            variant.label.to_owned(),
            measure_python(&variant, work, &deps, &python, &tool, python_runs)?,
            python_runs,
        ));
    }

    let ops_version = dist_version(&deps, "ops");
    writeln!(
        report,
        "## `update-status` on a healthy unit: this charm vs Python `ops` charms\n"
    )?;
    writeln!(
        report,
        "All run under the project's Juju simulator (`tests/src/sim`, fake hook tools and host \
         commands), measured by its wrapper with `getrusage(RUSAGE_CHILDREN)`: CPU is the \
         charm plus every hook tool and host fake it ran; peak RSS is the largest single \
         process of the hook. This charm: the packed `target/charm/tmate-ssh-server.charm`, \
         deployed and related to `github-runner/0`, converged. Python: two charms written for \
         this benchmark on `ops` {ops_version} (Python {python_version}, dependencies on \
         `PYTHONPATH` as charmcraft's `dispatch` sets it) with the same metadata, deployed and \
         related the same way, on a host whose service is running. Both make the same checks \
         as ours (config `port`, `network-get`, `systemctl is-active`) and set a status; the \
         second also loads a pydantic state model and renders the unit with jinja2 on every \
         hook, as the original charm does. Neither is the original charm, which does more \
         work per hook (a lower bound, then). One unmeasured run first; {runs} measured runs of \
         ours, {python_runs} of each Python charm.\n"
    )?;
    let mut table = Table::new([
        "charm",
        "runs",
        "CPU median",
        "CPU min",
        "CPU max",
        "wall median",
        "peak RSS (max)",
        "hook-tool calls",
        "host commands",
    ]);
    for (name, r, n) in &rows {
        table.row([
            name.clone(),
            n.to_string(),
            format_duration(r.cpu.median),
            format_duration(r.cpu.min),
            format_duration(r.cpu.max),
            format_duration(r.wall.median),
            kib_as_mib(r.peak_rss_kib),
            r.tool_calls.to_string(),
            r.host_calls.to_string(),
        ]);
    }
    writeln!(report, "{table}")?;
    let ours = &rows[0].1;
    let met = |ok: bool| if ok { "met" } else { "not met" };
    writeln!(
        report,
        "The floor row replays, from a shell script, exactly the hook-tool calls and host \
         commands this charm made in its last measured run: that much CPU is the simulator's \
         fake tools and process start-up, not the charm. This charm's own share is about \
         {} (median minus floor median; the floor also pays for starting the shell, so this \
         understates it slightly).\n",
        format_duration(ours.cpu.median.saturating_sub(floor_cpu))
    )?;
    for (name, theirs, _) in &rows[2..] {
        let cpu_ratio = ours.cpu.median.as_secs_f64() / theirs.cpu.median.as_secs_f64();
        writeln!(
            report,
            "- CPU <= 1/50 of the {name}: **{}** (ratio of medians {cpu_ratio:.4}, i.e. 1/{:.0}); \
             peak RSS {:.1} times smaller.",
            met(cpu_ratio <= CPU_BUDGET_FRACTION),
            1.0 / cpu_ratio,
            theirs.peak_rss_kib as f64 / ours.peak_rss_kib.max(1) as f64,
        )?;
    }
    writeln!(
        report,
        "- peak RSS <= 5 MiB: **{}** ({}{}); hook-tool calls <= {TOOL_CALL_BUDGET}: **{}** ({}).\n",
        met(ours.peak_rss_kib <= RSS_BUDGET_KIB),
        kib_as_mib(ours.peak_rss_kib),
        match ours.own_peak_rss_kib {
            Some(_) => ", the charm process itself",
            None => ", a fake hook tool; the charm itself used less",
        },
        met(ours.tool_calls <= TOOL_CALL_BUDGET),
        ours.tool_calls
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
        PYTHON_DEPS.join(", ")
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
                .map(|d| format!("{d} {}", dist_version(&deps, d)))
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
