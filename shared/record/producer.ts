// The name this responder signs its records with (audit operation producer, Pub/Sub
// attribute, report objects). Its own module so pure code can use it without loading pino.
export const PRODUCER = 'scc-container-responder';
