import { paxosSimulationSuite } from "./suite";

paxosSimulationSuite(3, 1, 1500);
