-- Customer orders, imported (`plantproof collector import-orders`) so that the application table's
-- order on-time delivery row is measured, not declared. An order is named by (site, order_id); a
-- later import of the same order updates its dates (a delivery recorded after the order was first
-- imported) and says so. `delivered` NULL: not delivered.
CREATE TABLE orders (
    site        text NOT NULL,
    order_id    text NOT NULL CHECK (order_id <> ''),
    due         date NOT NULL,
    delivered   date,
    source      text NOT NULL,  -- 'import:<file sha256>'
    imported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site, order_id)
);
CREATE INDEX orders_due ON orders (due);
