/** What `ciclo stack` needs to know about each native service it runs. */
/** What a service is; a cluster runs several services of one kind (kafka-1, kafka-2, ...). */
export type ServiceKind = 'kafka' | 'postgresql' | 'schema-registry' | 'clickhouse' | 'zookeeper';

export interface ServiceHealth {
  readonly healthy: boolean;
  readonly version?: string;
  readonly detail?: string;
}

export interface NativeService {
  readonly kind: ServiceKind;
  /** Unique in the stack: the kind, or the kind and the member's number in a cluster (`kafka-2`). */
  readonly name: string;
  /** What clients connect to, as shown by `stack status`. */
  readonly address: string;
  /** Ports the service binds; checked before start so a taken port fails with a clear line. */
  readonly ports: readonly number[];
  readonly logFile: string;
  readonly pidFile: string;
  readonly startTimeoutMs: number;
  /** Installs what is missing (idempotent); returns true when it had to install something. */
  install(say: (line: string) => void): Promise<boolean>;
  /** Writes config and launches the process, detached. */
  start(say: (line: string) => void): Promise<void>;
  /**
   * A clean shutdown the service prefers to signals; the stack then stops what is left of the process
   * group (TERM, then KILL).
   */
  stop?(): Promise<void>;
  probe(): Promise<ServiceHealth>;
  /** Runs once a start this stack made is healthy. */
  afterStart?(say: (line: string) => void): Promise<void>;
}
