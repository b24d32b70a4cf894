// mcconfig's entry module must be named "main"; the firmware lives under
// module names that mirror the repository (firmware/..., shared/...) so its
// relative imports resolve the same on the device as in the repo.
import main from "firmware/main";
export default main;
