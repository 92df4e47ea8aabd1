//! Adversarial tests of `nono run` and `nono wrap`: each tries an escape and asserts
//! the kernel said no.
