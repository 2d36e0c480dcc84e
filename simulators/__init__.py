"""A seeded plant with ground truth, served over real OPC UA and Modbus."""
