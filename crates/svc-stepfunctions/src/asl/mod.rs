//! The Amazon States Language, as pure functions: paths, payload templates and I/O
//! processing, intrinsic functions, Choice rules and definition validation.

pub mod choice;
pub mod intrinsics;
pub mod jsonata;
pub mod path;
pub mod payload;
pub mod validate;
