/** The fake backend: in-memory (or file-backed) ports for tests and benchmarks. */
import type { Ports } from '../ports';
import { FakeBackend, type FakeOptions } from './ports';

export function createFakePorts(options: FakeOptions): Ports {
  return new FakeBackend(options).ports();
}

export { FakeBackend, type FakeFailure, type FakeOptions, fakeTableNames } from './ports';
