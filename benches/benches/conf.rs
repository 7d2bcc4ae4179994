//! Micro benchmarks of `tmate-conf`: render the four server lines, parse and evaluate a
//! realistic `~/.tmate.conf`, and apply new server settings to it
//! (`cargo bench -p tmate-benches --bench conf`).
#![allow(clippy::expect_used, reason = "a benchmark stops on a setup failure")]

use std::hint::black_box;

use divan::Bencher;
use tmate_conf::{Document, Env, ServerConfig, render};

fn main() {
    divan::main();
}

const RSA: &str = "SHA256:Hthk2T/M/Ivqfk1YYUn5ijC2Att3+UPzD7Rn72P5VWs";
const ED25519: &str = "SHA256:jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9sI";
const NEW_ED25519: &str = "SHA256:8GmKHYHEJ6n0TEdciHeEGkKOigQfCFuBULdt6vZIhDc";

/// A user's `~/.tmate.conf`: tmux habits first, then the server settings (32 lines).
const USER_CONF: &str = r##"# ~/.tmate.conf
set -g prefix C-a
unbind C-b
bind C-a send-prefix
set -g mouse on
set -g history-limit 50000
set -g base-index 1
setw -g pane-base-index 1
set -g renumber-windows on
set -g escape-time 10
set -g default-terminal "screen-256color"
setw -g mode-keys vi
bind | split-window -h
bind - split-window -v
bind r source-file ~/.tmate.conf \; display "reloaded"
set -g status-interval 5
set -g status-left-length 40
set -g status-left '#[fg=green]#S #[fg=yellow]#I:#P '
set -g status-right "#{?client_prefix,^A ,}%H:%M %d-%b"
set -g status-style 'bg=colour235 fg=colour250'
set -g pane-border-style fg=colour238
set -g pane-active-border-style fg=colour39
set -g message-style "bg=colour39,fg=colour16"
set -g display-time 2000
set -g tmate-display-time 5000

# Self-hosted relay.
set -g tmate-server-host 10.0.0.5
set -g tmate-server-port 10022
set -g tmate-server-rsa-fingerprint SHA256:Hthk2T/M/Ivqfk1YYUn5ijC2Att3+UPzD7Rn72P5VWs
set -g tmate-server-ed25519-fingerprint SHA256:jfttvoypkHiQYUqUCwKeqd9d1fJj/ZiQlFOHVl6E9sI
set -g tmate-identity ""
"##;

/// The user's environment: `~` in `source-file ~/.tmate.conf` needs a home.
fn env() -> Env {
    Env::empty().with_own_home("/home/ubuntu")
}

fn config(ed25519: &str) -> ServerConfig {
    ServerConfig::new("10.0.0.5", 10022, RSA, ed25519).expect("a valid config")
}

#[divan::bench]
fn render_server_lines(bencher: Bencher<'_, '_>) {
    let cfg = config(ED25519);
    bencher.bench(|| render(black_box(&cfg)));
}

#[divan::bench]
fn parse_user_conf() -> Document {
    Document::parse(black_box(USER_CONF))
}

/// Parse, evaluate as tmux would, and read the server settings back.
#[divan::bench]
fn parse_evaluate_read_server_config(bencher: Bencher<'_, '_>) {
    let env = env();
    bencher.bench(|| {
        let doc = Document::parse(black_box(USER_CONF));
        doc.evaluate(&env)
            .server_settings()
            .to_server_config()
            .expect("the server lines are valid")
    });
}

/// Applying settings the file already has: evaluated, no edit.
#[divan::bench]
fn apply_unchanged(bencher: Bencher<'_, '_>) {
    let (env, cfg, doc) = (env(), config(ED25519), Document::parse(USER_CONF));
    bencher.with_inputs(|| doc.clone()).bench_local_refs(|doc| {
        assert!(!doc.set_server_config(&cfg, &env).expect("applied"));
    });
}

/// Applying a new Ed25519 fingerprint: one line edited in place, the rest kept byte for byte.
#[divan::bench]
fn apply_new_fingerprint(bencher: Bencher<'_, '_>) {
    let (env, cfg, doc) = (env(), config(NEW_ED25519), Document::parse(USER_CONF));
    bencher.with_inputs(|| doc.clone()).bench_local_refs(|doc| {
        assert!(doc.set_server_config(&cfg, &env).expect("applied"));
    });
}
