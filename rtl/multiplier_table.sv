// Per-neuron requantization constants (q::Multiplier: mantissa, shift), written one neuron at a
// time and read one lane group per cycle with a registered output, like the synapse memory, so
// the constants meet the accumulators of the same group in the same pipeline stage.
`default_nettype none

module multiplier_table #(
    parameter int NEURONS = 256,
    parameter int LANES   = 32,
    parameter int MANT_W  = 32,
    parameter int SHIFT_W = 8,
    localparam int GROUPS = NEURONS / LANES,
    localparam int N_W    = NEURONS > 1 ? $clog2(NEURONS) : 1,
    localparam int G_W    = GROUPS > 1 ? $clog2(GROUPS) : 1
) (
    input  logic                     clk,
    input  logic                     wr_en,
    input  logic [N_W-1:0]           wr_neuron,
    input  logic [MANT_W-1:0]        wr_mantissa,
    input  logic [SHIFT_W-1:0]       wr_shift,
    input  logic                     rd_en,
    input  logic [G_W-1:0]           rd_group,
    output logic [LANES*MANT_W-1:0]  rd_mantissa,
    output logic [LANES*SHIFT_W-1:0] rd_shift
);
    // Word = one lane group, so a read is one row access, not LANES scattered ones.
    logic [LANES*MANT_W-1:0]  mant_mem  [GROUPS];
    logic [LANES*SHIFT_W-1:0] shift_mem [GROUPS];

    // neuron = group * LANES + lane; LANES need not be a power of two, and may equal NEURONS
    // (so it does not fit N_W bits: divide in 32).
    logic [G_W-1:0] wr_group;
    logic [N_W-1:0] wr_lane;
    always_comb begin
        wr_group = G_W'(32'(wr_neuron) / 32'(LANES));
        wr_lane  = N_W'(32'(wr_neuron) % 32'(LANES));
    end

    always_ff @(posedge clk) begin
        if (wr_en) begin
            for (int l = 0; l < LANES; l++) begin
                if (wr_lane == N_W'(l)) begin
                    mant_mem[wr_group][l*MANT_W +: MANT_W]    <= wr_mantissa;
                    shift_mem[wr_group][l*SHIFT_W +: SHIFT_W] <= wr_shift;
                end
            end
        end
        if (rd_en) begin
            rd_mantissa <= mant_mem[rd_group];
            rd_shift    <= shift_mem[rd_group];
        end
    end
endmodule

`default_nettype wire
