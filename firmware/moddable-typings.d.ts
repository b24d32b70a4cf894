// The Moddable SDK modules firmware may use, from @moddable/typings, for the
// repository's typecheck (the mcconfig build uses the SDK's own typings).
// (The package's own "types" field is a list, which tsc does not follow.)
/// <reference path="../node_modules/@moddable/typings/xs.d.ts" />
/// <reference path="../node_modules/@moddable/typings/timer.d.ts" />
/// <reference path="../node_modules/@moddable/typings/time.d.ts" />
/// <reference path="../node_modules/@moddable/typings/mqtt/js.d.ts" />
/// <reference path="../node_modules/@moddable/typings/preference.d.ts" />
/// <reference path="../node_modules/@moddable/typings/file.d.ts" />
/// <reference path="../node_modules/@moddable/typings/flash.d.ts" />
/// <reference path="../node_modules/@moddable/typings/net.d.ts" />
/// <reference path="../node_modules/@moddable/typings/socket.d.ts" />
/// <reference path="../node_modules/@moddable/typings/debug.d.ts" />
/// <reference path="../node_modules/@moddable/typings/console.d.ts" />
/// <reference path="../node_modules/@moddable/typings/instrumentation.d.ts" />
/// <reference path="../node_modules/@moddable/typings/wifi.d.ts" />
/// <reference path="../node_modules/@moddable/typings/mc/config.d.ts" />
/// <reference path="../node_modules/@moddable/typings/embedded_io/_common.d.ts" />
/// <reference path="../node_modules/@moddable/typings/embedded_io/digital.d.ts" />
/// <reference path="../node_modules/@moddable/typings/embedded_io/pwm.d.ts" />
/// <reference path="../node_modules/@moddable/typings/embedded_io/i2c.d.ts" />
/// <reference path="../node_modules/@moddable/typings/embedded_provider/builtin.d.ts" />
