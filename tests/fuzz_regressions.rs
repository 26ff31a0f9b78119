//! Replays, through the fuzz targets, every input a fuzzer crashed on
//! (`tests/fuzz/regressions/<target>/`) and every seed (`tests/fuzz/seeds/<target>/`:
//! real clients' and the RFCs' request bodies, example-data's items). Each must run
//! without a panic and without a 5xx answer. Run alone with
//! `cargo test --test fuzz_regressions`.

#![allow(missing_docs, clippy::unwrap_used)]

use std::path::Path;

use dirdav_harness::targets;

fn replay(target: &str, run: fn(&[u8])) {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz");
    let mut count = 0;
    for kind in ["regressions", "seeds"] {
        let Ok(dir) = std::fs::read_dir(base.join(kind).join(target)) else {
            continue;
        };
        let mut inputs: Vec<_> = dir.map(|e| e.unwrap().path()).collect();
        inputs.sort();
        for input in inputs {
            let bytes = std::fs::read(&input).unwrap();
            eprintln!("{}", input.display());
            run(&bytes);
            count += 1;
        }
    }
    assert!(count > 0, "no inputs for {target}");
}

/// One test per target, named after it.
macro_rules! replays {
    ($($target:ident),*) => {$(
        #[test]
        fn $target() {
            replay(stringify!($target), targets::$target);
        }
    )*};
}

replays!(xml, report, dav_body, put_item, headers);
