// Squall's public API. Everything a user imports comes from here, by explicit lists.

export { Topology, isTopology } from './core/topology.ts'
export type { ErrorPolicy, Exchange, InputSpec, NodeOptions } from './core/topology.ts'
export { DROP } from './core/value-step.ts'
export type { ValueStep } from './core/value-step.ts'
export { Stream, KeyedStream } from './core/stream.ts'
export type { OperatorOptions, DeadLetter } from './core/stream.ts'
export type { Aggregate, ValueFn } from './core/operators.ts'
export type {
  Collector,
  Processor,
  ProcessorContext,
  ProcessorFactory,
  Timer,
  TimerService,
} from './core/processor.ts'
export type {
  KeyedState,
  ValueState,
  MapState,
  ListState,
  ReducingState,
  StateOptions,
} from './core/state.ts'
export { copyState } from './core/state.ts'
export type { Record, Key } from './core/record.ts'
export { record, MIN_TIME, MAX_TIME } from './core/record.ts'
export type {
  SourceSpec,
  SourceReader,
  ValuesRange,
  SinkSpec,
  SinkAccepts,
  SinkWriter,
  IoContext,
} from './core/source.ts'
export { WatermarkStrategy } from './core/watermark.ts'
export type { TimestampAssigner, WatermarkGenerator } from './core/watermark.ts'
export { ManualClock, systemClock } from './core/clock.ts'
export type { Clock } from './core/clock.ts'
export { toMillis } from './core/duration.ts'
export type { Duration } from './core/duration.ts'
export { SquallError, TopologyError, ConfigError, ERROR_CODES } from './core/errors.ts'
export type { ErrorCode, ErrorDomain, ErrorWhere, ConfigIssue } from './core/errors.ts'
export { consoleLogger, memoryLogger } from './core/logger.ts'
export type { Logger, LogLevel } from './core/logger.ts'
export { hashKey, keyGroupOf, DEFAULT_MAX_PARALLELISM } from './core/key-group.ts'

export { runEmbedded, runToEnd, runModule } from './runtime/embedded/runner.ts'
export type { EmbeddedOptions, TopologyDecorator } from './runtime/embedded/runner.ts'
export { endIdleThreads } from './runtime/embedded/thread-pool.ts'
export type { Job, JobResult, JobStatus, CheckpointStatus } from './runtime/job.ts'
export { loadTopology } from './runtime/load-module.ts'

export { generator, Random } from './plugins/inputs/generator.ts'
export type { GeneratorOptions } from './plugins/inputs/generator.ts'
export { file } from './plugins/inputs/file.ts'
export type { FileSourceOptions } from './plugins/inputs/file.ts'
export { tail } from './plugins/inputs/tail.ts'
export type { TailSourceOptions } from './plugins/inputs/tail.ts'
export { stdin } from './plugins/inputs/stdin.ts'
export type { StdinOptions } from './plugins/inputs/stdin.ts'
export { stdout } from './plugins/outputs/stdout.ts'
export type { StdoutOptions } from './plugins/outputs/stdout.ts'
export { collect, sinkFn, discard } from './plugins/outputs/collect.ts'
export type { CollectSink } from './plugins/outputs/collect.ts'

export { timeExtractor, parseTime, compileTime, compileTimeFormatter } from './core/time.ts'
export type { TimeFormat, TimeOptions, TimeExtractorOptions } from './core/time.ts'
export { compileTagPattern, matchTag } from './core/tag-match.ts'
export type { TagMatcher } from './core/tag-match.ts'
export { createParser, PARSER_TYPES, parseOrThrow } from './plugins/parsers/index.ts'
export type { Parser, ParserConfig, ParsedRecord } from './plugins/parsers/index.ts'
export { createFormatter, FORMATTER_TYPES } from './plugins/formatters/index.ts'
export type { Formatter, FormatterConfig } from './plugins/formatters/index.ts'
export { ForwardServer } from './plugins/forward/server.ts'
export type { ForwardServerOptions } from './plugins/forward/server.ts'
export { ForwardClient } from './plugins/forward/client.ts'
export type { ForwardClientOptions } from './plugins/forward/client.ts'

export {
  TumblingWindows,
  HoppingWindows,
  SlidingWindows,
  SessionWindows,
  CumulatingWindows,
} from './core/window/assigners.ts'
export type { WindowAssigner } from './core/window/assigners.ts'
export { Trigger } from './core/window/triggers.ts'
export type { Firing } from './core/window/triggers.ts'
export { Aggregates } from './core/window/aggregates.ts'
export type { WindowInfo, WindowResult, WindowOutput, WindowFunction } from './core/window/window.ts'
export { WindowedStream } from './core/window/windowed-stream.ts'
export type {
  IntervalJoinBuilder,
  IntervalJoin,
  JoinOutput,
  JoinFunction,
} from './core/join/interval-join.ts'
export type { WindowJoin } from './core/join/window-join.ts'
export { TestDriver } from './runtime/test-driver.ts'
export type { TestDriverOptions, TestFileSnapshot, TestRecord, TestSnapshot } from './runtime/test-driver.ts'

export { HyperLogLog, ExactDistinct } from './kit/hyperloglog.ts'
export { TopK, topK, mergeTopK } from './kit/top-k.ts'
export { SpaceSaving, CountMinSketch } from './kit/heavy-hitters.ts'
export { TrendTracker } from './kit/trend.ts'
export { SlidingWindowLimiter, TokenBucketLimiter } from './kit/rate-limit.ts'
export { BruteForceDetector } from './kit/brute-force.ts'
export { CrawlerClient, CrawlerDetector } from './kit/crawler.ts'
export type { Action, Decision } from './kit/decision.ts'
export {
  distinctCountAggregate,
  topKOperator,
  trendOperator,
  bruteForceOperator,
  crawlerOperator,
  rateLimitOperator,
} from './kit/operators.ts'

export { defineInput, defineOutput, defineParser, defineFormatter } from './plugins/define.ts'
export type { Plugin, PluginKind, PluginContext, InputContext } from './plugins/define.ts'
export { PluginRegistry } from './plugins/registry.ts'
export { retry, backoffDelay, isRetryable } from './plugins/helpers/retry.ts'
export type { RetryPolicy } from './plugins/helpers/retry.ts'
export { loadPipeline, parsePipeline } from './pipeline/load.ts'
export { buildPipeline } from './pipeline/build.ts'
export { startPipeline } from './pipeline/run.ts'

export { StreamBus, tapSink, busSource, withTaps } from './query/bus.ts'
export { withThreadTaps } from './query/thread-taps.ts'
export { QueryManager } from './query/manager.ts'
export type { QueryPlanner, TableDeclaration } from './query/manager.ts'
export { startServer } from './server/server.ts'
export type { ServerOptions, SquallServer, IngestHandler, IngestResult } from './server/server.ts'
export { serveTopology, serveModule } from './server/job-server.ts'
export type { HttpOptions, ServedJob } from './server/job-server.ts'

export { planQuery, requireAppendOnly, sqlPlanner, inferSchema } from './query/planner.ts'
export type {
  Catalog,
  CatalogTable,
  InsertPlan,
  PlanOptions,
  QueryPlan,
  SinkTarget,
} from './query/planner.ts'
export { ChangelogTable, isChange } from './query/changelog.ts'
export type { Change, ChangeOp, Row } from './query/changelog.ts'
export { parseScript, parseStatement, parseQuery } from './query/parser.ts'
export { Pattern } from './query/cep/pattern.ts'
export type { PatternMatch, StepCondition } from './query/cep/pattern.ts'
export { fileSink } from './plugins/outputs/file-sink.ts'
export type { FileSinkOptions } from './plugins/outputs/file-sink.ts'
export type { JobStateOptions, StateBackendKind } from './runtime/checkpoint-recovery.ts'
