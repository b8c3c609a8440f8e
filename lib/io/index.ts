/** rn.io: weights files. */
export {
  loadSafetensors,
  loadSafetensorsAsync,
  loadSafetensorsWithMetadata,
  saveSafetensors,
  saveSafetensorsAsync,
  rawToTensor,
  tensorToRaw,
} from './state';
export type { SaveOptions, SafeDType } from './state';
export {
  parseSafetensors,
  serializeSafetensors,
  readSafetensorsFile,
  readSafetensorsFileAsync,
  writeSafetensorsFile,
  writeSafetensorsFileAsync,
} from './safetensors';
export type { RawTensor, SafetensorsContents } from './safetensors';
export { saveCheckpoint, loadCheckpoint, readCheckpoint, CHECKPOINT_FORMAT, CHECKPOINT_VERSION } from './checkpoint';
export type { SaveCheckpointArgs, LoadCheckpointArgs, CheckpointContents, CheckpointMeta, Stateful } from './checkpoint';
