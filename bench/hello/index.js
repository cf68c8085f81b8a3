// Baseline for the cold-start benchmark: the smallest CloudEvent function the Functions
// Framework can serve, started exactly like ours.
import { cloudEvent } from '@google-cloud/functions-framework';

cloudEvent('hello', () => {});
