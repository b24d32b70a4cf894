// mcconfig's entry module must be named "main"; the firmware's modules keep
// names that mirror the repository (firmware/..., shared/...) so relative
// imports in the TypeScript resolve the same on the device as in the repo.
import main from "firmware/esp32/main";
export default main;
