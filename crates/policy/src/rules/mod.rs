//! One file per rule. To add one: write it here beside the others, with
//! its tests, and list it in `Engine::new`.

pub mod all_from;
pub mod bulk;
pub mod holds;
pub mod hourly;
pub mod identity;
pub mod recipients;
pub mod relay;
pub mod size;
pub mod submission;
