// The Trainer contract over the job manager: validation (limits, algorithm/config agreement, data
// files hashed), job records, watch streams, cancel and resume. The algorithms are runners registered
// per Algorithm; an algorithm without one answers UNIMPLEMENTED.
import { clone, create, toBinary } from '@bufbuild/protobuf';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainerService } from '@juice/proto';
import { Algorithm, FileDigestSchema, TrainingHyperparametersSchema, JobSchema, JobSpecSchema, JobState, echo, unimplementedJobSettings, validateId, validateListJobs, validateStartJob, type DatasetSpec, type FileDigest, type Job, type JobSpec } from '@juice/proto';
import { fileDigest, requestModelDir } from '@juice/data';
import { failedPrecondition, invalidArgument, notFound, rejectInvalid, unimplemented, withField, type ServiceImpl } from '@juice/service-kit';
import type { JobManager } from './job-manager.js';
import { checkpointInfoOf } from './runners/checkpoint-info.js';
import { modelDirDigests } from './runners/model-source.js';
import { checkEvaluationTasks } from './pipeline/evaluator-tasks.js';
import { checkWeightSync } from './settings/weight-sync.js';

export const TRAINER_VERSION = '0.1.0';

/** SHA-256 of the spec without name and labels, so equivalent specs hash alike (Job.config_sha256). */
export function configSha256(spec: Job['spec']): string {
  // clone, not create: create(schema, message) returns the message itself, and blanking name and labels
  // on it wiped them from the job record (ListJobs' label filter then matched nothing).
  const copy = spec ? clone(JobSpecSchema, spec) : create(JobSpecSchema);
  copy.name = '';
  copy.labels = {};
  return createHash('sha256').update(toBinary(JobSpecSchema, copy)).digest('hex');
}

function requireId(field: string, id: string): void {
  rejectInvalid(validateId(field, id));
}

const pageToken = (offset: number) => Buffer.from(`o:${offset}`).toString('base64url');
function pageOffset(token: string): number {
  if (!token) return 0;
  const m = /^o:(\d+)$/.exec(Buffer.from(token, 'base64url').toString());
  if (!m) throw invalidArgument('page_token', 'is not a token this trainer issued (start with an empty token)');
  return Number(m[1]);
}

export function createTrainerService(jobs: JobManager): Partial<ServiceImpl<typeof TrainerService>> {
  // The job manager owns the checkpoint store; every job's versions live there under its id.
  const store = jobs.checkpoints;
  const lookup = (id: string): Job => {
    requireId('job_id', id);
    const job = jobs.get(id);
    if (!job) throw notFound(`job ${echo(id)} does not exist (ListJobs shows the known jobs)`);
    return job;
  };

  /**
   * The model files a job starts from, hashed (Job.model_files), and the spec as recorded: a checkpoint
   * reference by `best` or "latest" (version 0) is pinned to the version it names now, so the job and its
   * resumes keep one model. The embedded default has no files until the job builds it from its data.
   */
  const resolveModelSource = async (spec: JobSpec, signal: AbortSignal): Promise<{ spec: JobSpec; modelFiles: FileDigest[] }> => {
    const m = spec.model;
    const digests = (files: { path: string; sha256: string; sizeBytes: number }[]) => files.map((f) => create(FileDigestSchema, { path: f.path, sha256: f.sha256, sizeBytes: BigInt(f.sizeBytes) }));
    if (m?.kind.case === 'hfDir') {
      // The data roots first: outside them the answer is PERMISSION_DENIED whether or not the path exists.
      const dir = await withField('spec.model.hf_dir', async () => requestModelDir(m.kind.value as string));
      if (!existsSync(join(dir, 'config.json'))) throw notFound(`spec.model.hf_dir: ${echo(m.kind.value, 200)} is not a model directory (no config.json)`);
      return { spec, modelFiles: digests(await modelDirDigests(dir, signal)) };
    }
    if (m?.kind.case !== 'checkpoint') return { spec, modelFiles: [] };
    const ref = m.kind.value;
    const field = 'spec.model.checkpoint';
    const source = jobs.get(ref.jobId);
    if (!source) throw notFound(`${field}.job_id: job "${ref.jobId}" does not exist (ListJobs shows the known jobs)`);
    const kept = store.list(source.id);
    let version = Number(ref.version);
    if (ref.best) {
      version = Number(source.bestCheckpoint?.version ?? 0n);
      if (!version) throw failedPrecondition(`${field}.best: job "${source.id}" has no best checkpoint (it needs EvalConfig.best_metric or eval_datasets)`);
    } else if (version === 0) version = kept.at(-1) ?? 0;
    if (!kept.includes(version)) throw notFound(`${field}: job "${source.id}" has no checkpoint${version ? ` v${version}` : 's'} (kept: ${kept.join(', ') || 'none'})`);
    const loaded = await withField(field, async () => store.load(source.id, version));
    const pinned = clone(JobSpecSchema, spec);
    pinned.model!.kind = { case: 'checkpoint', value: { ...ref, version: BigInt(version), best: false } };
    return { spec: pinned, modelFiles: digests(loaded.manifest.files.map((f) => ({ path: join(loaded.dir, f.path), sha256: f.sha256, sizeBytes: f.size }))) };
  };

  return {
    async startJob(req, ctx) {
      rejectInvalid(validateStartJob(req));
      const notYet = unimplementedJobSettings(req.spec).list[0];
      if (notYet) throw unimplemented(`${notYet.field}: ${notYet.problem}`, { field: notYet.field });
      checkEvaluationTasks(req.spec, jobs.defaultEvaluator);
      checkWeightSync(req.spec);
      if (req.requestId) {
        const prior = jobs.findByRequestId(req.requestId);
        if (prior) return { job: prior };
      }
      const { spec, modelFiles } = await resolveModelSource(req.spec!, ctx.signal);
      // Hash every data file up front: a job records exactly which bytes it trained on.
      const digest = async (field: string, d: DatasetSpec) => {
        const f = await withField(`${field}.path`, fileDigest(d.path, ctx.signal));
        if (d.expectedSha256 && d.expectedSha256 !== f.sha256) {
          throw failedPrecondition(`${field}.expected_sha256: ${d.path} has sha256 ${f.sha256}, expected ${d.expectedSha256}`);
        }
        return create(FileDigestSchema, { path: f.path, sha256: f.sha256, sizeBytes: BigInt(f.sizeBytes) });
      };
      const dataFiles = [];
      for (const [i, d] of spec.datasets.entries()) dataFiles.push(await digest(`spec.datasets[${i}]`, d));
      for (const [i, d] of spec.evalDatasets.entries()) dataFiles.push(await digest(`spec.eval_datasets[${i}]`, d));
      const sha = configSha256(spec);
      if (req.validateOnly) return { job: create(JobSchema, { spec, state: JobState.UNSPECIFIED, configSha256: sha, dataFiles, modelFiles }) };
      if (!jobs.hasRunner(spec.algorithm)) {
        throw unimplemented(`running ${Algorithm[spec.algorithm]} jobs needs the training engine, which this build of the trainer does not have yet (validate_only works)`);
      }
      return { job: jobs.start(spec, { configSha256: sha, dataFiles, modelFiles, requestId: req.requestId || undefined, trainerVersion: TRAINER_VERSION }) };
    },
    async getJob(req) {
      return { job: lookup(req.jobId) };
    },
    async listJobs(req) {
      rejectInvalid(validateListJobs(req));
      const size = req.pageSize || 50;
      const offset = pageOffset(req.pageToken);
      const matching = jobs.list().filter(
        (j) =>
          (req.states.length === 0 || req.states.includes(j.state)) &&
          (req.algorithms.length === 0 || req.algorithms.includes(j.spec!.algorithm)) &&
          Object.entries(req.labels).every(([k, v]) => j.spec?.labels[k] === v),
      );
      const page = matching.slice(offset, offset + size).map((j) => (req.omitSpec ? create(JobSchema, { ...j, spec: undefined }) : j));
      return { jobs: page, nextPageToken: offset + size < matching.length ? pageToken(offset + size) : '' };
    },
    async cancelJob(req) {
      return { job: jobs.cancel(lookup(req.jobId), req.reason, req.skipCheckpoint) };
    },
    async resumeJob(req) {
      const job = lookup(req.jobId);
      if (job.state === JobState.SUCCEEDED) throw failedPrecondition(`job "${job.id}" already succeeded; start a new job (or raise max_steps with ResumeJob on a cancelled/failed job)`);
      if (req.endpoints) job.spec!.endpoints = req.endpoints;
      if (req.maxSteps > 0n) {
        job.spec!.hyperparameters ??= create(TrainingHyperparametersSchema);
        job.spec!.hyperparameters.maxSteps = req.maxSteps;
      }
      if (req.checkpointVersion > 0n && !store.list(job.id).includes(Number(req.checkpointVersion))) {
        throw notFound(`checkpoint_version ${req.checkpointVersion} of job "${job.id}" is not known (ListCheckpoints shows them)`);
      }
      return { job: jobs.resume(job, req.checkpointVersion > 0n ? Number(req.checkpointVersion) : undefined) };
    },
    async *watchJob(req, ctx) {
      const job = lookup(req.jobId);
      yield* jobs.watch(job, { fromBeginning: req.fromBeginning, afterSequence: req.afterSequence, omitLogs: req.omitLogs, signal: ctx.signal });
    },
    async listCheckpoints(req) {
      const job = lookup(req.jobId);
      const seen = new Map<bigint, NonNullable<Job['lastCheckpoint']>>();
      for (const c of [job.bestCheckpoint, job.lastCheckpoint]) if (c) seen.set(c.version, c);
      // Every version still in the store (keep_last prunes), described from its manifest.
      const kept = store.list(job.id);
      for (const v of seen.keys()) if (!kept.includes(Number(v))) seen.delete(v);
      for (const v of kept) if (!seen.has(BigInt(v))) seen.set(BigInt(v), checkpointInfoOf(store, job.id, v, job.bestCheckpoint?.version));
      return { checkpoints: [...seen.values()].sort((a, b) => (a.version < b.version ? -1 : 1)) };
    },
  };
}
