/**
 * The training page's settings: what it starts with, what each control means, and how a setting is read
 * from the URL or a control (`?steps=100&lrAdam=0.02`) with a clear message naming a bad value. Pure (no
 * DOM, no GPU). The optimizers' own hyperparameters are validated by the optimizers themselves.
 */

export interface TrainingSettings {
  /** Full-batch steps of each optimizer. */
  steps: number;
  /** Units in each of the two hidden layers. */
  hidden: number;
  classes: number;
  pointsPerClass: number;
  /** How far each spiral arm winds (turns). */
  turns: number;
  /** Noise on the angle of each point (radians). */
  noise: number;
  dataSeed: number;
  weightSeed: number;
  lrAdabelief: number;
  /** AdaBelief's RAdam-style rectification (adabelief-pytorch's default is on). */
  rectify: boolean;
  lrAdam: number;
  lrSgd: number;
  /** SGD's momentum. */
  momentum: number;
}

export const TRAINING_DEFAULTS: Readonly<TrainingSettings> = Object.freeze({
  steps: 100,
  hidden: 16,
  classes: 2,
  pointsPerClass: 100,
  turns: 1,
  noise: 0.15,
  dataSeed: 1,
  weightSeed: 2,
  lrAdabelief: 0.02,
  rectify: false,
  lrAdam: 0.02,
  lrSgd: 0.2,
  momentum: 0.9,
});

export interface TrainingField {
  key: keyof TrainingSettings;
  label: string;
  kind: 'number' | 'integer' | 'check';
  /** Inclusive bounds of an integer field. */
  min?: number;
  max?: number;
}

export const TRAINING_FIELDS: readonly TrainingField[] = [
  { key: 'lrAdabelief', label: 'lr (AdaBelief)', kind: 'number' },
  { key: 'rectify', label: 'rectify (AdaBelief)', kind: 'check' },
  { key: 'lrAdam', label: 'lr (Adam)', kind: 'number' },
  { key: 'lrSgd', label: 'lr (SGD)', kind: 'number' },
  { key: 'momentum', label: 'momentum (SGD)', kind: 'number' },
  { key: 'steps', label: 'steps', kind: 'integer', min: 1, max: 5000 },
  { key: 'hidden', label: 'hidden units', kind: 'integer', min: 1, max: 256 },
  { key: 'classes', label: 'classes (arms)', kind: 'integer', min: 2, max: 8 },
  { key: 'pointsPerClass', label: 'points per class', kind: 'integer', min: 1, max: 2000 },
  { key: 'turns', label: 'turns', kind: 'number' },
  { key: 'noise', label: 'noise (rad)', kind: 'number' },
  { key: 'dataSeed', label: 'data seed', kind: 'integer', min: 0, max: 2 ** 31 - 1 },
  { key: 'weightSeed', label: 'weight seed', kind: 'integer', min: 0, max: 2 ** 31 - 1 },
];

/** The value of `field` written as `text` (a URL parameter or a control), or an error naming both. */
export function parseTrainingField(field: TrainingField, text: string): number | boolean {
  if (field.kind === 'check') {
    if (text === '1' || text === 'true') return true;
    if (text === '0' || text === 'false') return false;
    throw new Error(`${field.key}: expected 1 or 0, got '${text}'`);
  }
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(value))
    throw new Error(`${field.label}: '${text}' is not a number`);
  if (field.kind === 'integer' && (!Number.isSafeInteger(value) || value < field.min! || value > field.max!))
    throw new Error(`${field.label}: expected an integer from ${field.min} to ${field.max}, got ${text}`);
  return value;
}

/** The defaults with every field given in `query` applied; throws on an unknown or bad parameter. */
export function settingsFromQuery(query: URLSearchParams): TrainingSettings {
  const settings: TrainingSettings = { ...TRAINING_DEFAULTS };
  for (const [key, text] of query) {
    const field = TRAINING_FIELDS.find((f) => f.key === key);
    if (!field)
      throw new Error(
        `unknown setting '${key}' (the settings are ${TRAINING_FIELDS.map((f) => f.key).join(', ')})`,
      );
    Object.assign(settings, { [key]: parseTrainingField(field, text) });
  }
  return settings;
}

/** The settings that differ from the defaults, as URL parameters (shareable). */
export function settingsToQuery(settings: TrainingSettings): URLSearchParams {
  const query = new URLSearchParams();
  for (const f of TRAINING_FIELDS) {
    const value = settings[f.key];
    if (value !== TRAINING_DEFAULTS[f.key])
      query.set(f.key, typeof value === 'boolean' ? (value ? '1' : '0') : String(value));
  }
  return query;
}
