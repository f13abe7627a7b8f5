"""MinHash benchmarks: signature throughput against datasketch and rensa, and
end-to-end deduplication of generated corpora against datasketch's MinHashLSH,
with wall time and peak memory.

    python benchmarks/minhash.py                 # throughput + 100k end to end
    python benchmarks/minhash.py --docs 100000 1000000
    python benchmarks/minhash.py --skip-e2e
    python benchmarks/minhash.py --smoke         # tiny sizes, seconds

Throughput runs in this process on one core (polars limited to one thread);
every contender gets the same documents and parameters and the same number of
repeats (best of ``--repeat``) in the same run. datasketch is used the fast way
its documentation gives: ``MinHash.bulk`` (one set of permutations for all
documents), and per-document ``MinHash(permutations=...)`` with precomputed
permutations. The end-to-end reference is datasketch in one process
(``MinHash.bulk`` + ``MinHashLSH`` insert and query, then union-find).
"""

from __future__ import annotations

import os

os.environ.setdefault("POLARS_MAX_THREADS", "1")  # per-core numbers
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._compare import add_smoke_flag, best_of, compare  # noqa: E402
from benchmarks._corpora import DEFAULT_CORPORA, require_corpora, text_chunks  # noqa: E402
from benchmarks._memory import PeakMemory  # noqa: E402
from benchmarks.minhash_eval import lsh_clusters  # noqa: E402
from curate.dedup.minhash import Signer  # noqa: E402
from curate.dedup.shingle import ShingleConfig, normalize, python_shingles  # noqa: E402

SOURCES = ["spamassassin_emails", "bbc_news", "brown_corpus", "python311_doc_rst", "postgresql_doc_html"]


def throughput(docs: list[str], num_perm: int, seed: int, label: str, repeat: int) -> None:
    import xxhash
    from datasketch import MinHash
    from rensa import RMinHash

    cfg = ShingleConfig()
    n = len(docs)
    arr = pa.array(docs, pa.large_string())
    # shared Python shingling for the peers: same normalisation, n-grams as bytes/str
    def py_shingles() -> list[list[bytes]]:
        return [python_shingles(t, cfg) for t in normalize(arr, cfg).to_pylist()]

    shingles = py_shingles()
    shingles_str = [[s.decode() for s in doc] for doc in shingles]
    mean_sh = np.mean([len(s) for s in shingles])
    base = MinHash(num_perm=num_perm, seed=seed)  # permutations computed once, as datasketch advises
    permutations, scheme = base.permutations, base.scheme

    def ds_permutations(sh=shingles):
        for doc in sh:
            m = MinHash(num_perm=num_perm, seed=seed, hashfunc=xxhash.xxh32_intdigest, permutations=permutations,
                        scheme=scheme)
            m.update_batch(doc)

    def ds_bulk(sh=shingles):
        MinHash.bulk(sh, num_perm=num_perm, seed=seed, hashfunc=xxhash.xxh32_intdigest)

    def rensa_sig(sh=shingles_str):
        for doc in sh:
            m = RMinHash(num_perm=num_perm, seed=seed)
            m.update(doc)
            m.digest()

    def rensa_minimal():
        # the yardstick's usual setup: lowercase, split on whitespace, word 5-grams, no other normalisation
        for text in docs:
            words = text.lower().split()
            grams = [" ".join(words[i:i + 5]) for i in range(len(words) - 4)] or [" ".join(words)]
            m = RMinHash(num_perm=num_perm, seed=seed)
            m.update(grams)
            m.digest()

    signers = {s: Signer(scheme=s, num_perm=num_perm, seed=seed) for s in ("fast", "datasketch")}
    for s in signers.values():
        s.sign(docs[:10])  # compile / load kernels
    norm = normalize(arr, cfg)

    def ours_sig(scheme):
        signer = signers[scheme]
        return lambda: signer.finish(signer.raw(*signer.hash_shingles(norm)))

    def ours_e2e(scheme):
        return lambda: signers[scheme].sign(arr)

    t_py_shingle = best_of(repeat, py_shingles)
    alone = {
        "datasketch MinHash(permutations=...)": best_of(repeat, ds_permutations),
        "datasketch MinHash.bulk": best_of(repeat, ds_bulk),
        "rensa RMinHash": best_of(repeat, rensa_sig),
        "curate fast": best_of(repeat, ours_sig("fast")),
        "curate datasketch": best_of(repeat, ours_sig("datasketch")),
    }
    e2e = {k: v + t_py_shingle for k, v in alone.items() if not k.startswith("curate")}
    e2e["rensa, minimal shingling"] = best_of(repeat, rensa_minimal)
    e2e["curate fast"] = best_of(repeat, ours_e2e("fast"))
    e2e["curate datasketch"] = best_of(repeat, ours_e2e("datasketch"))
    print(f"\n## Signature throughput, {label}: {n} docs, mean {np.mean([len(d) for d in docs]):.0f} chars, "
          f"{mean_sh:.0f} word 5-gram shingles/doc, num_perm={num_perm}, one core, best of {repeat}")
    print("(end to end = normalise + shingle + hash + MinHash from raw text; peers use Python n-grams "
          f"after the same normalisation, {n / t_py_shingle:,.0f} docs/s on its own)")
    print(f"{'contender':38s} {'signatures docs/s':>18s} {'end-to-end docs/s':>18s}")
    for k in e2e:
        sig = f"{n / alone[k]:18,.0f}" if k in alone else f"{'-':>18s}"
        print(f"{k:38s} {sig} {n / e2e[k]:18,.0f}")
    # the same signatures (datasketch's scheme) against datasketch's faster use in this run; the fast scheme
    # against rensa
    def ds(table: dict) -> str:
        return min(("datasketch MinHash.bulk", "datasketch MinHash(permutations=...)"), key=table.__getitem__)

    for what, ref, ours, table in (
            ("signatures, datasketch scheme", ds(alone), "curate datasketch", alone),
            ("signatures, fast scheme", "rensa RMinHash", "curate fast", alone),
            ("raw text to signature, datasketch scheme", ds(e2e), "curate datasketch", e2e),
            ("raw text to signature, fast scheme", "rensa, minimal shingling", "curate fast", e2e)):
        compare(f"minhash {what}, {label}", f"{ref} (one core)", n / table[ref], n / table[ours], "docs/s")


def _generate(batch: dict, words: int, vocab: np.ndarray, dup_every: int) -> pa.Table:
    """Documents of ``words`` random real words; every ``dup_every``-th one is
    a near-duplicate (3 words changed) of the one before it. Batches start at
    multiples of ``dup_every``, so a copy's original is in the same batch."""
    ids = np.asarray(batch["id"], dtype=np.int64)
    rng = np.random.default_rng(int(ids[0]))
    index = rng.integers(0, len(vocab), (len(ids), words))
    dup = np.flatnonzero(ids % dup_every == dup_every - 1)
    dup = dup[dup > 0]
    index[dup] = index[dup - 1]
    for row in dup:
        index[row, rng.choice(words, 3, replace=False)] = -1
    table = [*vocab.tolist(), "edited"]
    texts = [" ".join([table[i] for i in r]) for r in index.tolist()]
    n = len(ids)
    return pa.table({"id": pa.array([f"doc{i:09d}" for i in ids]), "text": pa.array(texts),
                     "source": pa.array(["bench"] * n), "meta": pa.array(["{}"] * n), "_order": pa.array(ids)})


def reference_dedup(n_docs: int, words: int, vocab: list[str], threshold: float, num_perm: int) -> tuple[float, int]:
    """datasketch in one process on the same documents: MinHash.bulk, MinHashLSH insert and query, union-find.

    Returns the wall time (generation excluded) and the documents removed (all but one per cluster)."""
    import xxhash
    from datasketch import MinHash

    cfg = ShingleConfig()
    texts = []
    for start in range(0, n_docs, 1000):
        batch = _generate({"id": np.arange(start, min(n_docs, start + 1000))}, words, np.array(vocab), 10)
        texts.extend(batch.column("text").to_pylist())
    started = time.perf_counter()
    norm = normalize(pa.array(texts, pa.large_string()), cfg).to_pylist()
    signatures = MinHash.bulk((python_shingles(t, cfg) for t in norm), num_perm=num_perm, seed=1,
                              hashfunc=xxhash.xxh32_intdigest)
    removed = n_docs - len(set(lsh_clusters(signatures, threshold, num_perm)))
    return time.perf_counter() - started, removed


def end_to_end(n_docs: int, words: int, vocab: list[str], object_store_gb: float, scheme: str,
               distributed: bool = False) -> None:
    import ray

    from curate.stages.minhash_dedup import MinHashDedup

    with PeakMemory() as mem:
        t0 = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                 object_store_memory=int(object_store_gb * 2**30))
        ray.data.DataContext.get_current().enable_progress_bars = False
        ray.data.DataContext.get_current().print_on_execution_start = False
        import logging

        logging.getLogger("ray.data").setLevel(logging.WARNING)
        ds = ray.data.range(n_docs, override_num_blocks=max(4, n_docs // 20_000)).map_batches(
            _generate, batch_format="numpy", batch_size=1000,
            fn_kwargs={"words": words, "vocab": np.array(vocab), "dup_every": 10})
        t_gen = time.perf_counter()
        ds = ds.materialize()  # the corpus as a reader would deliver it
        t1 = time.perf_counter()
        extra = {"local_components_max_edges": 0, "broadcast_max_rows": 0} if distributed else {}
        result = MinHashDedup(scheme=scheme, **extra).run(ds)
        rows, dropped = n_docs, 0
        for batch in result.marks.iter_batches(batch_format="pyarrow", batch_size=65536):
            dropped += batch.num_rows - batch.column("_drop_reason").null_count
        t2 = time.perf_counter()
        ray.shutdown()
    expected = n_docs // 10
    print(f"\n## End to end: {n_docs:,} generated documents of {words} words (~{words * 6.5 / 1000:.1f} KB), "
          f"scheme={scheme}, 2 CPUs, object store {object_store_gb} GB"
          + (", distributed components and shuffle joins forced" if distributed else ""))
    print(f"rows out {rows:,}, removed {dropped:,} (planted {expected:,})")
    print(f"dedup wall time {t2 - t1:.1f} s ({n_docs / (t2 - t1):,.0f} docs/s; stage run + reading every mark), "
          f"generation {t1 - t_gen:.1f} s, Ray start {t_gen - t0:.1f} s; "
          f"peak memory (PSS of all processes: driver, Ray services, object store, workers) "
          f"{mem.peak_between(t1, t2) / 2**30:.2f} GiB during dedup, {mem.peak / 2**30:.2f} GiB whole run "
          f"(generation included)")
    print("stats:", {k: v for k, v in result.stats.items()})
    print("largest processes at the peak (GiB):",
          ", ".join(f"{name.split('/')[-1]} {pss / 2**30:.2f}" for pss, name in mem.breakdown[:8]))
    reference_s, reference_removed = reference_dedup(n_docs, words, vocab, 0.8, 128)
    print(f"reference: datasketch MinHash.bulk + MinHashLSH(threshold=0.8) + union-find, one process: "
          f"{reference_s:.1f} s, removed {reference_removed:,}")
    compare(f"near-duplicate removal, {n_docs:,} generated documents of {words} words",
            "datasketch MinHash.bulk + MinHashLSH, one process", n_docs / reference_s, n_docs / (t2 - t1),
            "docs/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument("--throughput-docs", type=int, default=2000)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--docs", type=int, nargs="*", default=[100_000], help="end-to-end corpus sizes (1000000 is slow)")
    ap.add_argument("--words", type=int, default=160, help="words per generated document")
    ap.add_argument("--scheme", default="fast", choices=["fast", "datasketch"])
    ap.add_argument("--object-store-gb", type=float, default=3.0)
    ap.add_argument("--distributed", action="store_true",
                    help="force distributed connected components and shuffle joins (no broadcast tables)")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-e2e", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs, for every contender")
    add_smoke_flag(ap)
    args = ap.parse_args()
    require_corpora(args.corpora, SOURCES, args.smoke)
    if args.smoke:
        args.throughput_docs, args.docs, args.repeat, args.object_store_gb = 100, [500], 1, 1.0
    if not args.skip_throughput:
        for size, label in ((2000, "2 KB documents"), (10000, "10 KB documents")):
            docs = text_chunks(args.corpora, SOURCES, size, args.throughput_docs)
            throughput(docs, args.num_perm, seed=1, label=label, repeat=args.repeat)
    if not args.skip_e2e:
        vocab = sorted({w for d in text_chunks(args.corpora, SOURCES, 2000, 3000) for w in d.split()})
        for n in args.docs:
            end_to_end(n, args.words, vocab, args.object_store_gb, args.scheme, args.distributed)


if __name__ == "__main__":
    main()
