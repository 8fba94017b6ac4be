//! Kernel benchmarks: the rolling sum, block strong sums, and the match
//! search over a lightly edited 16 MiB file.
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use delta::rolling::checksum1;
use delta::{match_file, sum_sizes, ChecksumKind, Op, Signature};

fn pseudo(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2).wrapping_add(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn bench_checksum1(c: &mut Criterion) {
    let data = pseudo(1 << 20, 1);
    let mut g = c.benchmark_group("checksum1");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("1MiB", |b| b.iter(|| checksum1(black_box(&data))));
    g.finish();
}

fn bench_block_sum(c: &mut Criterion) {
    let block = pseudo(4096, 2);
    let mut g = c.benchmark_group("block_sum");
    g.throughput(Throughput::Bytes(block.len() as u64));
    for kind in [
        ChecksumKind::Md4,
        ChecksumKind::Md5,
        ChecksumKind::Xxh64,
        ChecksumKind::Xxh3,
        ChecksumKind::Xxh128,
    ] {
        g.bench_function(kind.name(), |b| {
            b.iter(|| kind.block_sum(black_box(&block), 0x1234, true))
        });
    }
    g.finish();
}

fn bench_match_file(c: &mut Criterion) {
    let basis = pseudo(16 << 20, 3);
    let mut new = basis.clone();
    for k in 1..8 {
        new[k * 2_000_000] ^= 0xff;
    }
    new.splice(5_000_000..5_000_000, *b"a small insertion");
    let kind = ChecksumKind::Xxh128;
    let sizes = sum_sizes(basis.len() as u64, kind.digest_len(), None, false);
    let sig = Signature::generate(&basis[..], basis.len() as u64, sizes, kind, 7, true)
        .expect("signature of in-memory basis");
    let mut g = c.benchmark_group("match_file");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(new.len() as u64));
    g.bench_function("16MiB_few_edits", |b| {
        b.iter(|| {
            let mut ops = 0u64;
            let r = match_file(&new[..], &sig, kind, 7, true, &mut |op: Op<'_>| {
                ops += 1;
                black_box(op);
                Ok(())
            });
            black_box((r.map(|(s, _)| s.literal).unwrap_or(0), ops))
        })
    });
    // nothing matches: the per-byte rolling loop dominates
    let other = pseudo(16 << 20, 4);
    g.bench_function("16MiB_unrelated", |b| {
        b.iter(|| {
            let r = match_file(&other[..], &sig, kind, 7, true, &mut |op: Op<'_>| {
                black_box(op);
                Ok(())
            });
            black_box(r.map(|(s, _)| s.literal).unwrap_or(0))
        })
    });
    g.finish();
}

criterion_group!(benches, bench_checksum1, bench_block_sum, bench_match_file);
criterion_main!(benches);
