// Worker thread entry: lets the worker load TypeScript sources, then starts the worker executor.
import { register } from 'tsx/esm/api'

register()
await import('./worker.ts')
