//! R-AV-2: EICAR is found in every container format the scanner opens, and
//! nested two and more levels deep; the same containers holding a
//! look-alike are clean and fully scanned (nothing unscannable).

mod common;

use common::{eicar, lookalike, scan, wrap, Format, ALL};

fn found(data: &[u8]) -> Option<String> {
    scan(data, "attachment").infected.map(|(sig, _)| sig)
}

#[test]
fn eicar_alone() {
    assert_eq!(found(&eicar()).as_deref(), Some("Eicar-Test-Signature"));
    assert_eq!(found(&lookalike()), None);
}

#[test]
fn eicar_in_every_format() {
    for f in ALL {
        let c = wrap(f, "eicar.com", &eicar());
        let r = scan(&c, "attachment");
        let (sig, path) = r
            .infected
            .clone()
            .unwrap_or_else(|| panic!("{f:?}: not found: {r:?}"));
        assert_eq!(sig, "Eicar-Test-Signature", "{f:?}");
        // Formats that name their member name it on the way in.
        if !matches!(
            f,
            Format::Gzip | Format::Bzip2 | Format::Xz | Format::Compress
        ) {
            assert!(
                path.last().is_some_and(|p| p.ends_with("eicar.com")),
                "{f:?}: {path:?}"
            );
        }
    }
}

#[test]
fn lookalikes_are_clean_and_fully_read() {
    for f in ALL {
        let c = wrap(f, "notes.txt", &lookalike());
        let r = scan(&c, "attachment");
        assert_eq!(r.infected, None, "{f:?}");
        assert_eq!(r.unscannable, None, "{f:?}");
        assert!(
            r.files >= 2,
            "{f:?}: the member itself was not reached: {r:?}"
        );
    }
}

#[test]
fn every_pair_nested_two_levels() {
    // The inner format's container is the outer format's member.
    for outer in ALL {
        for inner in ALL {
            let c = wrap(outer, "inner.bin", &wrap(inner, "eicar.com", &eicar()));
            let r = scan(&c, "attachment");
            assert!(
                r.infected.is_some(),
                "{inner:?} in {outer:?}: not found: {r:?}"
            );
        }
    }
}

#[test]
fn deep_chains() {
    use Format::*;
    // zip in 7z in tar.gz, and longer mixed chains.
    let chains: &[&[Format]] = &[
        &[Zip, SevenZ, Tar, Gzip],
        &[Arj, Compress, Tnef, Zip],
        &[Rtf, Cfb, Rar, Lha, Bzip2],
        &[Uu, Xz, SevenZ, Zip, Tar, Gzip, BinHex],
        &[Zip, Zip, Zip, Zip, Zip, Zip, Zip, Zip],
    ];
    for chain in chains {
        let mut data = eicar();
        for f in chain.iter() {
            data = wrap(*f, "layer", &data);
        }
        let r = scan(&data, "attachment");
        let (_, path) = r
            .infected
            .clone()
            .unwrap_or_else(|| panic!("{chain:?}: not found: {r:?}"));
        assert_eq!(path.len(), chain.len(), "{chain:?}: {path:?}");
    }
}

#[test]
fn depth_limit_makes_it_unscannable() {
    let mut data = eicar();
    for _ in 0..20 {
        data = wrap(Format::Zip, "layer.zip", &data);
    }
    let r = scan(&data, "attachment");
    assert_eq!(r.infected, None);
    let why = r.unscannable.expect("deeper than 17 is unscannable");
    assert!(why.contains("deeper than 17"), "{why}");
}

#[test]
fn a_virus_after_clean_members_is_found() {
    let clean = lookalike();
    let v = eicar();
    let z = common::zip(&[("a.txt", &clean), ("b.txt", &clean), ("c/eicar.com", &v)]);
    let (_, path) = scan(&z, "x.zip").infected.unwrap();
    assert_eq!(path, vec!["c/eicar.com".to_string()]);
    let t = common::tar(&[("a.txt", &clean), ("eicar.com", &v)]);
    assert!(scan(&common::gzip(&t), "x.tgz").infected.is_some());
}
