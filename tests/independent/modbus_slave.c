/* A Modbus TCP slave built on libmodbus, a Modbus implementation this project did not write.
 * Usage: modbus_slave PORT VALUES_FILE
 * VALUES_FILE lines: "h ADDRESS WORD" (holding register), "i ADDRESS WORD" (input register),
 * "c ADDRESS 0|1" (coil), "d ADDRESS 0|1" (discrete input). 2048 of each exist; a request beyond
 * them is answered with exception 2 (illegal data address) by libmodbus itself.
 * Prints "READY PORT" once listening; serves one client at a time until killed. */
#include <errno.h>
#include <modbus/modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s PORT VALUES_FILE\n", argv[0]); return 2; }
    modbus_mapping_t *map = modbus_mapping_new(2048, 2048, 2048, 2048);
    FILE *values = fopen(argv[2], "r");
    if (map == NULL || values == NULL) { perror("setup"); return 1; }
    char table; int address; unsigned int word;
    while (fscanf(values, " %c %d %u", &table, &address, &word) == 3) {
        if (address < 0 || address >= 2048) continue;
        if (table == 'h') map->tab_registers[address] = (uint16_t)word;
        if (table == 'i') map->tab_input_registers[address] = (uint16_t)word;
        if (table == 'c') map->tab_bits[address] = word ? 1 : 0;
        if (table == 'd') map->tab_input_bits[address] = word ? 1 : 0;
    }
    fclose(values);
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", atoi(argv[1]));
    int server = modbus_tcp_listen(ctx, 1);
    if (server < 0) { fprintf(stderr, "listen: %s\n", modbus_strerror(errno)); return 1; }
    printf("READY %s\n", argv[1]);
    fflush(stdout);
    for (;;) {
        if (modbus_tcp_accept(ctx, &server) < 0) continue;
        uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
        for (;;) {
            int rc = modbus_receive(ctx, query);
            if (rc > 0) modbus_reply(ctx, query, rc, map);
            else if (rc == -1) break; /* the client closed the connection */
        }
        modbus_close(ctx);
    }
}
