import { simulationSuite } from "./suite";

simulationSuite(5, 1, 700);
