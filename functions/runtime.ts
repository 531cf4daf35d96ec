import { loadSettings } from '../shared/settings.js';
import { startTokex } from '../shared/startup.js';
import type { Tokex } from '../shared/tokex.js';

let instance: Promise<Tokex> | undefined;

/**
 * The one Tokex of this process. In Azure it is built from app settings on first use (the entry
 * point awaits it at load, so bad settings stop the worker); the local host installs its own first.
 */
export function tokex(): Promise<Tokex> {
  instance ??= startTokex(loadSettings(process.env, 'azure'));
  return instance;
}

export function useTokex(value: Tokex): void {
  instance = Promise.resolve(value);
}
