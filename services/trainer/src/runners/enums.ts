// The trainer proto's enums in the names the training loops take (unset/unspecified → the default).
import { LrSchedule, PairLoss } from '@juice/proto';

export const SCHEDULES = { [LrSchedule.LINEAR]: 'linear', [LrSchedule.COSINE]: 'cosine' } as Record<number, 'linear' | 'cosine'>;
export const PAIR_LOSSES = { [PairLoss.HINGE]: 'hinge', [PairLoss.LINEAR]: 'linear' } as Record<number, 'hinge' | 'linear'>;
