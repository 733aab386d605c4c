#!/usr/bin/env node
// peer.js: the bench's peer, graphile-worker carrying eight chained durable
// jobs per "return" (each job's handler adds the next one), against the
// bench's own PostgreSQL. tests/bench/peer.py runs it in two steps, so that
// the server's counters can be read between them:
//
//   node peer.js setup   migrate graphile-worker's schema into the database and
//                        queue the first job of each return (set-up, like the
//                        bench's orders: not measured)
//   node peer.js run     start one worker pool and run until every return's
//                        eighth job ran; print the figures as one JSON line
//
// Settings, from the environment (peer.py sets them):
//   PEER_DSN             connection string (postgres://postgres@127.0.0.1:PORT/peer)
//   PEER_RETURNS         returns (chains), default 4000
//   PEER_STEPS           jobs per return, default 8
//   PEER_CONCURRENCY     concurrentJobs, default 64
//   PEER_LOCAL_QUEUE     localQueue.size, default 1000 (-1: off)
//   PEER_COMPLETE_BATCH  completeJobBatchDelay and failJobBatchDelay in ms, default 5 (-1: off)
//   PEER_POOL            maxPoolSize, default concurrency + 2 (the docs' advice:
//                        the handlers add their next job through the same pool)
//
// Every job is its own durable work: graphile-worker locks it (in a batch,
// through the local queue), the handler adds the next job (one commit,
// synchronous_commit on as the server is set) and the completion deletes the
// job (batched). The figures: jobs and returns per second sustained (the
// middle 80 % of the jobs over the time between their 10th and 90th
// percentiles; a return is eight jobs, so returns/s is jobs/s over eight),
// the whole run's time, this process's CPU, and how many jobs ran twice or
// never (from the handlers' own count).
"use strict";

const { run, makeWorkerUtils } = require("graphile-worker");

const env = (name, dflt) => (process.env[name] !== undefined && process.env[name] !== ""
    ? Number(process.env[name]) : dflt);
const DSN = process.env.PEER_DSN;
const RETURNS = env("PEER_RETURNS", 4000);
const STEPS = env("PEER_STEPS", 8);
const CONCURRENCY = env("PEER_CONCURRENCY", 64);
const LOCAL_QUEUE = env("PEER_LOCAL_QUEUE", 1000);
const COMPLETE_BATCH = env("PEER_COMPLETE_BATCH", 5);
const POOL = env("PEER_POOL", CONCURRENCY + 2);
const TASK = "rf_step";

function logger() {
    // graphile-worker's Logger takes a log function factory.
    const { Logger } = require("graphile-worker");
    return new Logger(() => (level, message) => {
        if (level === "error") console.error("peer: " + message);
    });
}

function preset() {
    const worker = {
        connectionString: DSN, concurrentJobs: CONCURRENCY, maxPoolSize: POOL,
        pollInterval: 2000, preparedStatements: true, logger: logger(),
        completeJobBatchDelay: COMPLETE_BATCH, failJobBatchDelay: COMPLETE_BATCH,
    };
    if (LOCAL_QUEUE > 0) worker.localQueue = { size: LOCAL_QUEUE };
    return { worker };
}

async function setup() {
    const utils = await makeWorkerUtils({ connectionString: DSN, logger: logger() });
    try {
        await utils.migrate();
        const chunk = 1000;
        for (let r = 0; r < RETURNS; r += chunk) {
            const specs = [];
            for (let k = r; k < Math.min(RETURNS, r + chunk); k++) {
                specs.push({ identifier: TASK, payload: { r: k, s: 1 } });
            }
            await utils.addJobs(specs);
        }
    } finally {
        await utils.release();
    }
    process.stdout.write(JSON.stringify({ queued: RETURNS }) + "\n");
}

async function runAll() {
    const total = RETURNS * STEPS;
    const ran = new Uint8Array(total); // times each (return, step) ran, capped at 255
    const ends = new Float64Array(total); // when each job's handler ended (ms since start)
    let count = 0, twice = 0;
    let finish;
    const finished = new Promise((resolve) => { finish = resolve; });
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const taskList = {
        [TASK]: async (payload, helpers) => {
            const { r, s } = payload;
            if (s < STEPS) await helpers.addJob(TASK, { r, s: s + 1 });
            const i = r * STEPS + (s - 1);
            if (ran[i]) twice++;
            if (ran[i] < 255) ran[i]++;
            if (count < total) ends[count] = performance.now() - t0;
            if (++count === total) finish();
        },
    };
    const runner = await run({ preset: preset(), taskList, noHandleSignals: true });
    await finished;
    const tLast = performance.now() - t0;
    await runner.stop(); // flushes the batched completions
    const cpu = process.cpuUsage(cpu0);
    // Jobs left in the table (not completed) after the stop: none expected.
    const utils = await makeWorkerUtils({ connectionString: DSN, logger: logger() });
    let left = -1;
    try {
        left = Number((await utils.withPgClient((c) =>
            c.query("SELECT count(*) AS n FROM graphile_worker._private_jobs"))).rows[0].n);
    } finally {
        await utils.release();
    }
    const times = Array.from(ends.subarray(0, Math.min(count, total))).sort((a, b) => a - b);
    const pct = (p) => times[Math.min(times.length - 1, Math.floor(p * (times.length - 1)))];
    const p10 = pct(0.1), p90 = pct(0.9);
    const jobsPerS = p90 > p10 ? 0.8 * times.length / ((p90 - p10) / 1000) : null;
    let never = 0;
    for (let i = 0; i < total; i++) if (!ran[i]) never++;
    process.stdout.write(JSON.stringify({
        version: require("graphile-worker/package.json").version,
        node: process.version,
        returns: RETURNS, steps: STEPS, jobs: count,
        settings: { concurrentJobs: CONCURRENCY, maxPoolSize: POOL,
                    localQueueSize: LOCAL_QUEUE, completeJobBatchDelay: COMPLETE_BATCH,
                    failJobBatchDelay: COMPLETE_BATCH, preparedStatements: true },
        jobs_per_s: jobsPerS && Math.round(jobsPerS * 10) / 10,
        returns_per_s: jobsPerS && Math.round(jobsPerS / STEPS * 10) / 10,
        seconds_10_90: Math.round((p90 - p10) / 100) / 10,
        seconds: Math.round(tLast / 100) / 10,
        returns_per_s_whole_run: Math.round(RETURNS / (tLast / 1000) * 10) / 10,
        node_cpu_s: (cpu.user + cpu.system) / 1e6,
        ran_twice: twice, never_ran: never, jobs_left: left,
    }) + "\n");
}

const what = process.argv[2];
if (!DSN) {
    console.error("peer.js: PEER_DSN is not set");
    process.exit(2);
}
(what === "setup" ? setup() : what === "run" ? runAll() : Promise.reject(
    new Error("usage: node peer.js setup|run"))).then(
    () => process.exit(0),
    (e) => { console.error("peer.js: " + (e && e.stack || e)); process.exit(1); });
