// Crossbar synapse memory: AXONS rows of NEURONS signed weights, stored as GROUPS words of
// LANES weights per row (word address = axon * GROUPS + group). One write port for loading,
// one read port with a registered output: the 1-cycle read latency of the chip's synapse SRAM,
// so the core reads one lane group of a row per cycle.
`default_nettype none

module synapse_memory #(
    parameter int AXONS  = 256,
    parameter int GROUPS = 8,             // NEURONS / LANES
    parameter int WORD_W = 256,           // LANES * weight bits
    localparam int DEPTH  = AXONS * GROUPS,
    localparam int ADDR_W = DEPTH > 1 ? $clog2(DEPTH) : 1
) (
    input  logic              clk,
    input  logic              wr_en,
    input  logic [ADDR_W-1:0] wr_addr,
    input  logic [WORD_W-1:0] wr_data,
    input  logic              rd_en,
    input  logic [ADDR_W-1:0] rd_addr,
    output logic [WORD_W-1:0] rd_data
);
    logic [WORD_W-1:0] mem [DEPTH];

    always_ff @(posedge clk) begin
        if (wr_en) mem[wr_addr] <= wr_data;
        // Holding rd_data when idle mirrors an SRAM with its read-enable low (saves read energy).
        if (rd_en) rd_data <= mem[rd_addr];
    end
endmodule

`default_nettype wire
