// LANES leaky integrate-and-fire datapaths sharing the NEURONS membranes (the state SRAM of the
// chip, modelled as registers so a reset clears it in one cycle). One lane group per beat,
// q::lif_step_int bit for bit (docs/numerics.md §4.8):
//   v <- sat_MEM_W(v + ((x - v) >>> 1)); spike <- v >= 256 (1.0 in Q.8); if spike: v <- 0
// Outputs are registered: the group's spikes and post-update membranes, one cycle after the beat.
// A held beat (in_hold: a readout tick) leaves the membranes as they are, reports them, no spikes.
`default_nettype none

module lif_neuron_unit #(
    parameter int NEURONS = 256,
    parameter int LANES   = 32,
    parameter int MEM_W   = 16,            // >= 10 so that the threshold 256 is representable
    localparam int GROUPS = NEURONS / LANES,
    localparam int G_W    = GROUPS > 1 ? $clog2(GROUPS) : 1
) (
    input  logic                   clk,
    input  logic                   rst_n,   // synchronous: every membrane back to 0
    input  logic                   in_valid,
    input  logic                   in_hold,
    input  logic [G_W-1:0]         in_group,
    input  logic [LANES*MEM_W-1:0] in_current,
    output logic                   out_valid,
    output logic [G_W-1:0]         out_group,
    output logic [LANES-1:0]       out_spikes,
    output logic [LANES*MEM_W-1:0] out_membrane
);
    localparam int D_W = MEM_W + 2;   // v + (x - v) / 2 spans at most MEM_W + 1 bits
    localparam logic signed [D_W-1:0] THETA  = D_W'(256);
    localparam logic signed [D_W-1:0] V_MAX  = {3'b000, {(MEM_W - 1){1'b1}}};
    localparam logic signed [D_W-1:0] V_MIN  = {3'b111, {(MEM_W - 1){1'b0}}};

    logic signed [MEM_W-1:0] v [GROUPS][LANES];

    logic signed [MEM_W-1:0] v_next [LANES];
    logic [LANES-1:0]        fire;
    logic signed [MEM_W-1:0] lane_current [LANES];
    for (genvar l = 0; l < LANES; l++) begin : g_lane
        assign lane_current[l] = in_current[l*MEM_W +: MEM_W];  // not in always_comb: Icarus
    end
    always_comb begin
        for (int l = 0; l < LANES; l++) begin
            logic signed [D_W-1:0] vo, x, diff, step, sum, sat;
            vo   = D_W'(v[in_group][l]);
            x    = D_W'(lane_current[l]);
            diff = x - vo;
`ifdef SPIKETILE_MUTANT_6
            step = diff >> 1;  // logical instead of arithmetic shift
`else
            step = diff >>> 1;
`endif
            sum  = vo + step;
            // Unreachable while |x|, |v| fit MEM_W (the update is a convex step), kept as written
            // in the contract so a wider current cannot wrap the membrane.
            sat  = sum > V_MAX ? V_MAX : sum < V_MIN ? V_MIN : sum;
`ifdef SPIKETILE_MUTANT_1
            fire[l]   = sat > THETA;  // fires above the threshold only
`else
            fire[l]   = sat >= THETA;
`endif
            v_next[l] = fire[l] ? '0 : MEM_W'(sat);
        end
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            for (int g = 0; g < GROUPS; g++)
                for (int l = 0; l < LANES; l++) v[g][l] <= '0;
            out_valid <= 1'b0;
        end else begin
            out_valid <= in_valid;
            if (in_valid && in_hold) begin
                for (int l = 0; l < LANES; l++) out_membrane[l*MEM_W +: MEM_W] <= v[in_group][l];
                out_spikes <= '0;
                out_group  <= in_group;
            end else if (in_valid) begin
                for (int l = 0; l < LANES; l++) begin
                    v[in_group][l] <= v_next[l];
                    out_membrane[l*MEM_W +: MEM_W] <= v_next[l];
                end
                out_spikes <= fire;
                out_group  <= in_group;
            end
        end
    end
endmodule

`default_nettype wire
