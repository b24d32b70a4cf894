import { simulationSuite } from "./suite";

simulationSuite(3, 1, 1500);
