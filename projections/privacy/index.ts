/** Erasing a person from ClickHouse (`ciclo forget`): find the person's ids, then delete their rows. */
export { eraseFromClickHouse, type Erasure, type EraseOptions } from './erase';
export { findPersonIds, PERSON_ID_LIMITS, type PersonIdLimits, type PersonIds } from './person-ids';
export { PERSON_ID_COLUMNS, PERSON_REFERENCES } from './statements';
