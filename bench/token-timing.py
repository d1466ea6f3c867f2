#!/usr/bin/env python3
"""Token timing (threat model row A6): does a wrong token that shares more leading characters with the real one take
longer to refuse? Sends SAMPLES wrong tokens per prefix length, interleaved at random so drift hits every group alike,
and reports each group's median and a Welch t-test against the group sharing nothing. Not a CI test: timing on a
shared machine is noisy, and the answer is read, not asserted.

  bench/token-timing.sh            # starts a relay with the throttle off and runs this against it
"""
import argparse, http.client, math, random, statistics, string, time

ALPHABET = string.ascii_letters + string.digits


def welch(a, b):
    ma, mb = statistics.fmean(a), statistics.fmean(b)
    va, vb = statistics.variance(a), statistics.variance(b)
    se = math.sqrt(va / len(a) + vb / len(b))
    t = (ma - mb) / se if se else 0.0
    df = (va / len(a) + vb / len(b)) ** 2 / ((va / len(a)) ** 2 / (len(a) - 1) + (vb / len(b)) ** 2 / (len(b) - 1))
    # Thousands of samples per group: the normal tail is the t tail to three decimals.
    p = math.erfc(abs(t) / math.sqrt(2))
    return t, df, p


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument("--token", required=True, help="the real token (RELAY_TOKEN)")
    parser.add_argument("--samples", type=int, default=10000)
    args = parser.parse_args()

    real = args.token
    lengths = sorted({0, 1, 4, 8, 16, len(real) // 2, len(real) - 1})
    rng = random.Random(7)

    def wrong(prefix):
        rest = "".join(rng.choice(ALPHABET) for _ in range(len(real) - prefix))
        # The first differing character must differ: a random one could match by chance.
        if rest and rest[0] == real[prefix]:
            rest = ("A" if real[prefix] != "A" else "B") + rest[1:]
        return real[:prefix] + rest

    plan = [k for k in lengths for _ in range(args.samples)]
    rng.shuffle(plan)
    times = {k: [] for k in lengths}
    connection = http.client.HTTPConnection(args.host, args.port)
    for warm in range(500):
        connection.request("GET", "/v1/models", headers={"Authorization": "Bearer " + wrong(0)})
        connection.getresponse().read()
    for k in plan:
        headers = {"Authorization": "Bearer " + wrong(k)}
        start = time.perf_counter_ns()
        connection.request("GET", "/v1/models", headers=headers)
        response = connection.getresponse()
        response.read()
        times[k].append((time.perf_counter_ns() - start) / 1000)
        if response.status != 401:
            raise SystemExit(f"expected 401, got {response.status} (is the failed-auth throttle off?)")

    base = times[0]
    print(f"{args.samples} wrong tokens per prefix length, token length {len(real)}, interleaved")
    print("| shared prefix | median (µs) | mean (µs) | Welch t vs 0 | p |")
    print("|---:|---:|---:|---:|---:|")
    for k in lengths:
        t, _, p = welch(times[k], base) if k else (0.0, 0, 1.0)
        print(f"| {k} | {statistics.median(times[k]):.1f} | {statistics.fmean(times[k]):.1f} | {t:+.2f} | {p:.3f} |")


if __name__ == "__main__":
    main()
