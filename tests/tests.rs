//! Integration tests.
// OpenSSH agreement of tmate-keygen (ssh-keygen, sshd).
mod openssh;
// The tmate-keygen command line: formats, idempotence, bad input.
mod keygen_cli;
// The Juju simulator itself, driven by a tiny shell charm.
mod sim_fake_charm;
// Crash safety of tmate-keygen init under SIGKILL.
mod crash;
// The packed charm driven through Juju event sequences by the simulator.
mod charm_scenarios;
// The rock (rockcraft.yaml) against upstream and the charm unit that runs it.
mod rock;
// The packed .charm: entries, modes, glibc floor, charmcraft analyse.
mod charm_packaging;
// tmate_conf against the real tmate client: corpus, render, apply, quoting.
mod tmate_client;
// The fuzz targets' properties over the committed seeds.
mod fuzz_seeds;
// Fault injection: SIGKILL, disk full, read-only, hostile files, concurrency, tool failures.
mod faults;
// Private key material never leaves the unit: the simulator's scanner, planted leaks.
mod secrets;
// The charm's systemd unit under systemd-analyze: verify, exposure, per-directive ablation.
mod hardening;
// Bad input at every boundary: one auditable table, a summary line per boundary.
mod bad_input;
// The README's headline figures against the benchmark report.
mod docs;
