//! Integration tests.
// OpenSSH agreement of tmate-keygen (ssh-keygen, sshd).
mod openssh;
