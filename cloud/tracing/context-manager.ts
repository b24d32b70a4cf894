// The OpenTelemetry ContextManager over Node's AsyncLocalStorage: the
// active context follows awaits, so a span started in an API handler is the
// parent of the control-plane request made deep in the registry it calls,
// with no context threaded through every signature. (The official
// @opentelemetry/context-async-hooks does the same; it is not a dependency.)
// Installed once per process, only when tracing is on.
import { AsyncLocalStorage } from "node:async_hooks";
import { context, ROOT_CONTEXT, type Context, type ContextManager } from "@opentelemetry/api";

export class AlsContextManager implements ContextManager {
  readonly #als = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.#als.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.#als.run(ctx, () => fn.call(thisArg, ...args));
  }

  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== "function") return target;
    const f = target as unknown as (...a: unknown[]) => unknown;
    const als = this.#als;
    return function (this: unknown, ...a: unknown[]) { return als.run(ctx, () => f.apply(this, a)); } as unknown as T;
  }

  enable(): this { return this; }

  disable(): this {
    this.#als.disable();
    return this;
  }
}

let installed = false;

/** Sets the global context manager once (a second call is a no-op). */
export function installContextManager(): void {
  if (installed) return;
  installed = context.setGlobalContextManager(new AlsContextManager());
}
