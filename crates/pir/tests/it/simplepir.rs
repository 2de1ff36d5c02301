//! SimplePIR core: every record of random databases recovered against the plaintext, batching,
//! the error sampler, parameters, sizes, redaction and misuse errors. Fixed seeds throughout.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use unseen_pir::params::{LWE_N, max_log_p};
use unseen_pir::{
    Answer, Answers, Client, Database, MAX_BATCH, Params, PirError, PublicMatrix, Query, Seed,
    Server, gauss,
};

fn random_records(rng: &mut ChaCha20Rng, records: usize, record_len: usize) -> Vec<Vec<u8>> {
    (0..records)
        .map(|_| {
            let mut r = vec![0u8; record_len];
            rng.fill_bytes(&mut r);
            r
        })
        .collect()
}

/// Builds the database, asks for every record (in batches) and compares with the plaintext.
fn recover_all(params: Params, records: &[Vec<u8>], tag: u8) {
    let mut rng = ChaCha20Rng::from_seed([tag; 32]);
    let seed = Seed([tag ^ 0x5a; 32]);
    let rows: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    let (db, hint) = Database::build_with(params.clone(), &seed, &rows).unwrap();
    assert_eq!(hint.words().len(), params.rows() * LWE_N);
    let client = Client::new(&params, &seed);
    let all: Vec<usize> = (0..records.len()).collect();
    for batch in all.chunks(MAX_BATCH.min(256)) {
        let (state, queries) = client.query(batch, &mut rng).unwrap();
        let answers = Server::answer(&db, &queries).unwrap();
        let got = client.recover(state, &hint, &answers).unwrap();
        let expected: Vec<Vec<u8>> = batch.iter().map(|&i| records[i].clone()).collect();
        assert_eq!(got, expected, "{params:?}");
    }
}

fn shape(records: usize, record_len: usize, cols: Option<usize>, tag: u8) -> Params {
    let mut rng = ChaCha20Rng::from_seed([tag.wrapping_add(100); 32]);
    let params = match cols {
        Some(c) => Params::with_columns(records, record_len, c).unwrap(),
        None => Params::new(records, record_len).unwrap(),
    };
    let data = random_records(&mut rng, records, record_len);
    recover_all(params.clone(), &data, tag);
    params
}

#[test]
fn one_row() {
    // 1-byte records, 8 of them in 8 columns: a 1 × 8 matrix.
    let p = shape(8, 1, Some(8), 1);
    assert_eq!((p.rows(), p.cols()), (1, 8));
}

#[test]
fn one_record() {
    let p = shape(1, 32, None, 2);
    assert_eq!(p.cols(), 1);
    // m = 1 allows p = 2^13, so 256 bits take 20 rows (the last one padded).
    assert_eq!((p.log_p(), p.rows()), (13, 20));
}

#[test]
fn one_record_one_byte() {
    let p = shape(1, 1, None, 3);
    assert_eq!((p.rows(), p.cols()), (1, 1));
}

#[test]
fn non_square_and_partial_last_row() {
    // 100 records in 3 columns: 34 record slots per column, the last two empty.
    let p = shape(100, 7, Some(3), 4);
    assert_eq!(p.rows(), 34 * p.chunks_per_record());
    // And wider than tall.
    let p = shape(100, 2, Some(64), 5);
    assert!(p.cols() > p.rows());
}

#[test]
fn records_spanning_several_chunks() {
    let p = shape(1000, 32, None, 6);
    assert!(p.chunks_per_record() > 1);
    let p = shape(300, 100, Some(16), 7);
    assert_eq!(
        p.chunks_per_record(),
        (800usize).div_ceil(p.log_p() as usize)
    );
}

#[test]
fn record_len_not_a_multiple_of_log_p() {
    // 3 bytes = 24 bits in 10-bit values: 3 values, 6 padding bits.
    let p = shape(200, 3, Some(1024), 8);
    assert_eq!((p.log_p(), p.chunks_per_record()), (10, 3));
    // 7 bytes = 56 bits in 13-bit values (m = 1).
    let p = shape(5, 7, Some(1), 9);
    assert_eq!((p.log_p(), p.chunks_per_record()), (13, 5));
    // 5 bytes in 9-bit values.
    let p = shape(300, 5, Some(8192), 10);
    assert_eq!((p.log_p(), p.chunks_per_record()), (9, 5));
}

#[test]
fn default_shape_medium() {
    shape(1 << 12, 32, None, 11);
}

#[test]
fn worst_case_magnitude_entries() {
    // All-zero records make every entry −p/2 (the largest |D_ij|), all-0xff ones p/2 − 1; with
    // 2^14 columns, the widest these tests afford, the noise ⟨D_i, e⟩ is at its largest.
    for (tag, byte) in [(12u8, 0x00u8), (13, 0xff)] {
        let records = vec![vec![byte; 2]; 1 << 14];
        let params = Params::with_columns(records.len(), 2, 1 << 14).unwrap();
        assert_eq!(params.log_p(), 9);
        let mut rng = ChaCha20Rng::from_seed([tag; 32]);
        let seed = Seed([tag; 32]);
        let rows: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let (db, hint) = Database::build_with(params.clone(), &seed, &rows).unwrap();
        let client = Client::new(&params, &seed);
        let indices: Vec<usize> = (0..64).map(|i| i * 257).collect();
        let (state, queries) = client.query(&indices, &mut rng).unwrap();
        let answers = Server::answer(&db, &queries).unwrap();
        let got = client.recover(state, &hint, &answers).unwrap();
        assert!(got.iter().all(|r| r == &[byte, byte]));
    }
}

#[test]
fn batch_answers_equal_single_answers() {
    let mut rng = ChaCha20Rng::from_seed([14; 32]);
    let records = random_records(&mut rng, 500, 16);
    let rows: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    let seed = Seed([15; 32]);
    let (db, _) = Database::build(&seed, &rows, 16).unwrap();
    let client = Client::new(db.params(), &seed);
    let indices: Vec<usize> = (0..37).map(|i| (i * 13) % 500).collect();
    let (_state, queries) = client.query(&indices, &mut rng).unwrap();
    let batch = Server::answer(&db, &queries).unwrap();
    assert_eq!(batch.len(), queries.len());
    for (q, a) in queries.iter().zip(batch.as_slice()) {
        let single = Server::answer(&db, std::slice::from_ref(q)).unwrap();
        assert_eq!(single.as_slice(), std::slice::from_ref(a));
    }
    assert!(Server::answer(&db, &[]).unwrap().is_empty());
}

#[test]
fn gaussian_moments() {
    let mut rng = ChaCha20Rng::from_seed([16; 32]);
    let n = 400_000;
    let samples: Vec<i32> = (0..n).map(|_| gauss::sample(&mut rng)).collect();
    let mean = samples.iter().map(|&x| f64::from(x)).sum::<f64>() / f64::from(n);
    let var = samples
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / f64::from(n);
    let sigma2 = 6.4f64 * 6.4;
    // Standard errors: σ/√n ≈ 0.010 for the mean, σ²·√(2/n) ≈ 0.092 for the variance; 6 of each.
    assert!(mean.abs() < 0.06, "mean {mean}");
    assert!((var - sigma2).abs() < 0.55, "variance {var}, σ² = {sigma2}");
    assert!(samples.iter().all(|x| x.abs() <= gauss::TAIL));
    // Symmetric, and P(0) ≈ 1/(σ√(2π)) ≈ 0.0623.
    let pos = samples.iter().filter(|&&x| x > 0).count() as f64;
    let neg = samples.iter().filter(|&&x| x < 0).count() as f64;
    assert!((pos - neg).abs() / f64::from(n) < 0.01);
    let zero = samples.iter().filter(|&&x| x == 0).count() as f64 / f64::from(n);
    assert!((zero - 0.0623).abs() < 0.003, "P(0) = {zero}");
}

#[test]
fn plaintext_modulus_matches_the_paper() {
    // SimplePIR artifact, pir/params.csv: p_simple for n = 2^10, q = 2^32, σ = 6.4 and
    // m = 2^13 … 2^21 is 991, 833, 701, 589, 495, 416, 350, 294, 247; we use the largest power
    // of two below each.
    let paper = [991u32, 833, 701, 589, 495, 416, 350, 294, 247];
    for (log_m, p) in (13..=21).zip(paper) {
        let k = max_log_p(1 << log_m).unwrap();
        assert!(1u32 << k <= p && p < 1u32 << (k + 1), "m = 2^{log_m}");
    }
    assert_eq!(max_log_p(1), Some(13));
}

#[test]
fn sizes_do_not_depend_on_the_index() {
    let mut rng = ChaCha20Rng::from_seed([17; 32]);
    let records = random_records(&mut rng, 300, 10);
    let rows: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    let seed = Seed([18; 32]);
    let (db, _) = Database::build(&seed, &rows, 10).unwrap();
    let p = db.params().clone();
    let client = Client::new(&p, &seed);
    let indices: Vec<usize> = (0..300).collect();
    let (_state, queries) = client.query(&indices, &mut rng).unwrap();
    let answers = Server::answer(&db, &queries).unwrap();
    for q in &queries {
        assert_eq!(q.words().len(), p.query_len());
        assert_eq!(q.to_bytes().len(), p.query_bytes());
    }
    for a in answers.as_slice() {
        assert_eq!(a.words().len(), p.answer_len());
        assert_eq!(a.to_bytes().len(), p.answer_bytes());
    }
    // Byte forms round-trip.
    let q = Query::from_bytes(&p, &queries[0].to_bytes()).unwrap();
    assert_eq!(q, queries[0]);
    let a = Answer::from_bytes(&p, &answers.as_slice()[0].to_bytes()).unwrap();
    assert_eq!(&a, &answers.as_slice()[0]);
}

#[test]
fn debug_redacts_secrets_and_records() {
    let seed = Seed([19; 32]);
    let secret_record = b"ACCOUNT-1234-5678".to_vec();
    let rows: Vec<&[u8]> = vec![&secret_record; 4];
    let (db, hint) = Database::build(&seed, &rows, secret_record.len()).unwrap();
    let client = Client::new(db.params(), &seed);
    let mut rng = ChaCha20Rng::from_seed([20; 32]);
    let (state, queries) = client.query(&[2], &mut rng).unwrap();
    let state_dbg = format!("{state:?}");
    assert!(state_dbg.contains("<redacted>"), "{state_dbg}");
    assert!(!state_dbg.contains("secrets: ["), "{state_dbg}");
    // No number from the secret (or the index 2 beyond the count) appears: only `queries: 1`.
    assert!(
        state_dbg
            .chars()
            .filter(char::is_ascii_digit)
            .eq("1".chars()),
        "{state_dbg}"
    );
    for dbg in [
        format!("{db:?}"),
        format!("{hint:?}"),
        format!("{client:?}"),
    ] {
        assert!(!dbg.contains("ACCOUNT") && !dbg.contains("65, 67"), "{dbg}");
        assert!(dbg.len() < 300, "{dbg}");
    }
    assert_eq!(
        format!("{:?}", queries[0]),
        format!("Query({} words)", db.params().cols())
    );
}

#[test]
fn public_matrix_is_the_chacha20_keystream() {
    // Rows are expanded in parallel tiles of 256 rows; the result must be one keystream.
    let seed = Seed([21; 32]);
    let a = PublicMatrix::expand(&seed, 300);
    let mut rng = ChaCha20Rng::from_seed(seed.0);
    for j in 0..300 {
        let expected: Vec<u32> = (0..LWE_N).map(|_| rng.next_u32()).collect();
        assert_eq!(a.row(j).unwrap(), expected.as_slice(), "row {j}");
    }
    assert!(a.row(300).is_none());
}

#[test]
fn misuse_and_malformed_input_errors() {
    let seed = Seed([22; 32]);
    let recs = [[1u8; 4], [2u8; 4], [3u8; 4]];
    let rows: Vec<&[u8]> = recs.iter().map(|r| r.as_slice()).collect();
    let (db, hint) = Database::build(&seed, &rows, 4).unwrap();
    let p = db.params().clone();
    let client = Client::new(&p, &seed);
    let mut rng = ChaCha20Rng::from_seed([23; 32]);

    let short: Vec<&[u8]> = vec![&[1, 2, 3, 4], &[1, 2]];
    assert!(matches!(
        Database::build(&seed, &short, 4),
        Err(PirError::RecordLength {
            index: 1,
            len: 2,
            expected: 4
        })
    ));
    assert!(matches!(Params::new(0, 4), Err(PirError::Config(_))));
    assert!(matches!(
        Params::with_columns(4, 4, (1 << 21) + 1),
        Err(PirError::Config(_))
    ));
    assert!(matches!(
        client.query(&[3], &mut rng),
        Err(PirError::IndexOutOfRange {
            index: 3,
            records: 3
        })
    ));
    let too_many = vec![0usize; MAX_BATCH + 1];
    assert!(matches!(
        client.query(&too_many, &mut rng),
        Err(PirError::TooManyQueries { .. })
    ));

    let (state, queries) = client.query(&[0, 1], &mut rng).unwrap();
    // A query of the wrong length (a peer's bytes).
    let bad = Query::from_bytes(&p, &vec![0u8; p.query_bytes() + 4]);
    assert!(matches!(
        bad,
        Err(PirError::BadLength { what: "query", .. })
    ));
    let bad = Query::from_bytes(&p, &vec![0u8; p.query_bytes() + 1]);
    assert!(matches!(
        bad,
        Err(PirError::BadLength { what: "query", .. })
    ));
    // Answers: one missing.
    let answers = Server::answer(&db, &queries).unwrap();
    let one = Answers::new(answers.as_slice()[..1].to_vec());
    assert!(matches!(
        client.recover(state, &hint, &one),
        Err(PirError::CountMismatch {
            what: "answers",
            got: 1,
            expected: 2
        })
    ));
    // An answer of the wrong length.
    let bad = Answer::from_bytes(&p, &vec![0u8; p.answer_bytes() - 4]);
    assert!(matches!(
        bad,
        Err(PirError::BadLength { what: "answer", .. })
    ));
    // A hint of the wrong length.
    let bad = unseen_pir::Hint::from_words(&p, vec![0; 5]);
    assert!(matches!(bad, Err(PirError::BadLength { what: "hint", .. })));
    // Correct use still works.
    let (state, queries) = client.query(&[2, 0], &mut rng).unwrap();
    let answers = Server::answer(&db, &queries).unwrap();
    let got = client.recover(state, &hint, &answers).unwrap();
    assert_eq!(got, vec![vec![3u8; 4], vec![1u8; 4]]);
}
