// @moddable/typings declares mqtt/js's Client but not the `connect` function
// the module exports (examples/io/tcp/mqtt/mqtt.js: `export function
// connect(url, options) { return new Client(url, options); }`). This
// declaration merges into the SDK's ambient module.
declare module "mqtt/js" {
  export function connect(url: string, options?: IClientOptions): Client;
}
