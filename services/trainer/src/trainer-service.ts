// The Trainer contract. This build validates job specs (limits, algorithm/config agreement, dataset
// files present) and answers the job queries; running a job needs the training engine and answers
// UNIMPLEMENTED until it lands.
import { create, toBinary } from '@bufbuild/protobuf';
import { createHash } from 'node:crypto';
import type { TrainerService } from '@juice/proto';
import { Algorithm, FileDigestSchema, JobSchema, JobSpecSchema, JobState, validateListJobs, validateStartJob, type DatasetSpec, type Job } from '@juice/proto';
import { fileDigest } from '@juice/data';
import { failedPrecondition, invalidArgument, notFound, rejectInvalid, unimplemented, withField, type ServiceImpl } from '@juice/service-kit';

export interface TrainerOptions {
  storeDir: string;
  generatorAddress?: string;
  rewardModelAddress?: string;
}

/** SHA-256 of the spec without name and labels, so equivalent specs hash alike (Job.config_sha256). */
export function configSha256(spec: Job['spec']): string {
  const copy = create(JobSpecSchema, spec);
  copy.name = '';
  copy.labels = {};
  return createHash('sha256').update(toBinary(JobSpecSchema, copy, { writeUnknownFields: false })).digest('hex');
}

function requireId(field: string, id: string): void {
  if (id.length === 0) throw invalidArgument(field, 'is required');
}

export function createTrainerService(_opts: TrainerOptions): Partial<ServiceImpl<typeof TrainerService>> {
  // Jobs live here once the engine can run them; until then there are none to find.
  const jobs = new Map<string, Job>();
  const lookup = (id: string): Job => {
    const job = jobs.get(id);
    if (!job) throw notFound(`job "${id}" does not exist (ListJobs shows the known jobs)`);
    return job;
  };

  return {
    async startJob(req, ctx) {
      rejectInvalid(validateStartJob(req));
      const spec = req.spec!;
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
      if (req.validateOnly) {
        return { job: create(JobSchema, { spec, state: JobState.UNSPECIFIED, configSha256: configSha256(spec), dataFiles }) };
      }
      throw unimplemented(`running ${Algorithm[spec.algorithm]} jobs needs the training engine, which this build of the trainer does not have yet (validate_only works)`);
    },
    async getJob(req) {
      requireId('job_id', req.jobId);
      return { job: lookup(req.jobId) };
    },
    async listJobs(req) {
      rejectInvalid(validateListJobs(req));
      if (req.pageToken) throw invalidArgument('page_token', 'is not a token this trainer issued (start with an empty token)');
      return { jobs: [], nextPageToken: '' };
    },
    async cancelJob(req) {
      requireId('job_id', req.jobId);
      return { job: lookup(req.jobId) };
    },
    async resumeJob(req) {
      requireId('job_id', req.jobId);
      return { job: lookup(req.jobId) };
    },
    async *watchJob(req) {
      requireId('job_id', req.jobId);
      lookup(req.jobId);
    },
    async listCheckpoints(req) {
      requireId('job_id', req.jobId);
      lookup(req.jobId);
      return { checkpoints: [] };
    },
  };
}
