//! Integration tests.
// OpenSSH agreement of tmate-keygen (ssh-keygen, sshd).
mod openssh;
// The tmate-keygen command line: formats, idempotence, bad input.
mod keygen_cli;
// Crash safety of tmate-keygen init under SIGKILL.
mod crash;
