//! Overcast runtime: process sandbox, Lambda Runtime API, engine manager.
