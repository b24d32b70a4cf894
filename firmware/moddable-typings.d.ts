// The Moddable SDK modules firmware may use, from @moddable/typings.
// (The package's own "types" field is a list, which tsc does not follow.)
/// <reference path="../node_modules/@moddable/typings/xs.d.ts" />
/// <reference path="../node_modules/@moddable/typings/timer.d.ts" />
/// <reference path="../node_modules/@moddable/typings/mqtt/js.d.ts" />
/// <reference path="../node_modules/@moddable/typings/preference.d.ts" />
/// <reference path="../node_modules/@moddable/typings/file.d.ts" />
/// <reference path="../node_modules/@moddable/typings/console.d.ts" />
/// <reference path="../node_modules/@moddable/typings/instrumentation.d.ts" />
/// <reference path="../node_modules/@moddable/typings/wifi.d.ts" />
/// <reference path="../node_modules/@moddable/typings/mc/config.d.ts" />
