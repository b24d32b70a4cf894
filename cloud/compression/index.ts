// Public entry of cloud-side compression (docs/data-plane.md "Compression").
export { CodecName, codecNames, codecs, codecOf, CompressionError, isCodecName, type Codec } from "./codecs";
export {
  codecChoices, CompressionHeader, CompressionPath, decodePayload, decompressedBytesMaxDefault, defaultCompression, encodePayload, policyProblems,
  thresholdBytesMax, type CodecChoice, type CompressionPolicy, type Encoded, type HeaderReader,
} from "./policy";
