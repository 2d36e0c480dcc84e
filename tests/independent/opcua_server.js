// An OPC UA server this project did not write (node-opcua), for tests against an independent
// implementation. Usage: node opcua_server.js PORT PKI_DIR SECURITY(none|strict) MAX_SESSIONS
// Prints "READY <port>" once listening. Namespace urn:independent:plant, object Machine1.
"use strict";
const path = require("path");
const { OPCUAServer } = require("node-opcua-server");
const { DataType, Variant } = require("node-opcua-variant");
const { StatusCodes } = require("node-opcua-status-code");
const { MessageSecurityMode, SecurityPolicy } = require("node-opcua-secure-channel");
const { OPCUACertificateManager } = require("node-opcua-certificate-manager");

async function main() {
  const [port, pki, security, maxSessions] = process.argv.slice(2);
  const strict = security === "strict";
  const serverCertificateManager = new OPCUACertificateManager({
    rootFolder: path.join(pki, "server"),
    automaticallyAcceptUnknownCertificate: !strict,
  });
  const server = new OPCUAServer({
    port: Number(port),
    resourcePath: "/independent",
    maxSessions: Number(maxSessions),
    serverCertificateManager,
    securityModes: strict ? [MessageSecurityMode.SignAndEncrypt] : [MessageSecurityMode.None],
    securityPolicies: strict ? [SecurityPolicy.Basic256Sha256] : [SecurityPolicy.None],
    allowAnonymous: true,
    serverInfo: { applicationUri: "urn:independent:server", productUri: "independent-test" },
  });
  await server.initialize();
  const ns = server.engine.addressSpace.registerNamespace("urn:independent:plant");
  const machine = ns.addObject({ organizedBy: server.engine.addressSpace.rootFolder.objects, browseName: "Machine1" });
  const values = { Temperature: 21.5, Speed: 1450.25, Count: 4294967000, Running: true, Label: "LOT-7", Setpoint: -12 };
  const types = { Temperature: DataType.Double, Speed: DataType.Float, Count: DataType.UInt32,
                  Running: DataType.Boolean, Label: DataType.String, Setpoint: DataType.Int16 };
  for (const name of Object.keys(values)) {
    ns.addVariable({
      componentOf: machine,
      browseName: name,
      nodeId: `s=Machine1.${name}`,
      dataType: types[name],
      minimumSamplingInterval: name === "Temperature" ? 1000 : 100,
      accessLevel: name === "Setpoint" ? "CurrentRead | CurrentWrite" : "CurrentRead",
      userAccessLevel: name === "Setpoint" ? "CurrentRead | CurrentWrite" : "CurrentRead",
      value: {
        get: () => new Variant({ dataType: types[name], value: values[name] }),
        set: (variant) => { values[name] = variant.value; return StatusCodes.Good; },
      },
    });
  }
  const other = ns.addObject({ organizedBy: server.engine.addressSpace.rootFolder.objects, browseName: "Machine2" });
  ns.addVariable({ componentOf: other, browseName: "Temperature", nodeId: "s=Machine2.Temperature",
                   dataType: DataType.Double, value: { dataType: DataType.Double, value: 99.0 } });
  await server.start();
  process.stdout.write(`READY ${server.endpoints[0].port}\n`);
  process.on("SIGTERM", async () => { await server.shutdown(100); process.exit(0); });
}
main().catch((err) => { process.stderr.write(String(err && err.stack || err) + "\n"); process.exit(1); });
