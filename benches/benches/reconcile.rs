//! Micro benchmarks of the charm's reconcile, in-process against its in-memory fakes of the
//! hook tools and the machine (`cargo bench -p tmate-benches --bench reconcile`): what the
//! charm itself costs per hook, without process start-up or the hook tools' own work (the
//! whole-process comparison in `compare` measures those).
#![allow(clippy::expect_used, reason = "a benchmark stops on a setup failure")]

use divan::Bencher;
use tmate_ssh_server_charm::testing::FakeUnit;

fn main() {
    check_what_is_measured();
    divan::main();
}

/// The unit's bind address.
const ADDRESS: &str = "10.0.0.5";
/// The relation the installed unit publishes on.
const RELATION: &str = "debug-ssh:1";

/// A converged unit related to one consumer, records cleared.
fn healthy_unit() -> FakeUnit {
    let unit = FakeUnit::new(ADDRESS);
    unit.relate(RELATION);
    for hook in ["install", "config-changed", "start"] {
        unit.run_hook(hook).expect("a deploy hook succeeds");
    }
    unit.juju.reset_record();
    unit.host.reset_record();
    unit
}

/// A fresh machine related to one consumer, whose host keys already exist.
fn fresh_unit_with_keys() -> FakeUnit {
    let unit = FakeUnit::new(ADDRESS);
    unit.relate(RELATION);
    unit.put_host_keys();
    unit
}

/// Not timed: the benchmarks must measure the paths they are named after.
fn check_what_is_measured() {
    let unit = healthy_unit();
    unit.run_hook("update-status").expect("update-status");
    assert_eq!(
        unit.juju.calls(),
        ["config-get", "state-get", "network-get"],
        "healthy update-status takes the fast path"
    );
    assert!(unit.host.changes().is_empty(), "and changes nothing");

    let unit = fresh_unit_with_keys();
    unit.run_hook("install").expect("install");
    let changes = unit.host.changes();
    assert!(
        changes.iter().any(|c| c == "apt-get install docker.io")
            && changes
                .iter()
                .any(|c| c == "systemctl restart tmate-ssh-server.service"),
        "install does the whole job: {changes:?}"
    );
    assert!(
        !changes.iter().any(|c| c.contains("/keys/")),
        "the keys exist, none is written: {changes:?}"
    );
    let calls = unit.juju.calls();
    for call in ["open-port", "relation-set", "state-set"] {
        assert!(
            calls.iter().any(|c| c == call),
            "install ran {call}: {calls:?}"
        );
    }
}

/// `update-status` on a healthy, converged unit: three hook tool calls, the public keys'
/// fingerprints, the unit file rendered and compared, one `systemctl is-active`.
#[divan::bench]
fn update_status_healthy(bencher: Bencher<'_, '_>) {
    bencher
        .with_inputs(healthy_unit)
        .bench_local_refs(|unit| unit.run_hook("update-status"));
}

/// `install` on a fresh machine whose host keys already exist: docker.io installed, the unit
/// written, enabled and started, the port opened, the relation data published, the record
/// stored.
#[divan::bench]
fn install_keys_pregenerated(bencher: Bencher<'_, '_>) {
    bencher
        .with_inputs(fresh_unit_with_keys)
        .bench_local_refs(|unit| unit.run_hook("install"));
}
