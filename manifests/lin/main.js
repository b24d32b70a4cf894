// mcconfig's entry module must be named "main" (see ../esp32/main.js); this
// one starts the firmware with the lin simulator's board.
import main from "firmware/lin/main";
export default main;
