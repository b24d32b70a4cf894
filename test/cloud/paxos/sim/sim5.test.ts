import { paxosSimulationSuite } from "./suite";

paxosSimulationSuite(5, 1, 600);
