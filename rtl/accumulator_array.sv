// Per-neuron synaptic accumulators, updated one lane group per cycle.
//
// An event beat adds one synaptic operation per lane (docs/numerics.md §3):
//   binary      acc += w
//   graded      acc += w * x      (x: the ACT_W-bit payload, signed or unsigned by kind)
//   bit-serial  acc += ±(w << p)  (payload: sign in the MSB, bit position p in the low bits)
// Sums saturate to ACC_W bits. The contract sizes the accumulator so a token never overflows
// (acc_bits >= w_bits + a_bits + log2(fan-in)); saturation only defines the out-of-contract case
// (e.g. many events on one axon) so that it cannot flip sign the way a wrap would.
// A partial-sum beat adds psum_value (ACC_W, signed) to one lane of the group, saturating the
// same way: the reduction input of a tile whose other inputs sit on other crossbars.
// A tick beat reads the group (rd_acc, combinational) and clears it for the next token.
`default_nettype none

module accumulator_array #(
    parameter int NEURONS = 256,
    parameter int LANES   = 32,
    parameter int W_W     = 8,
    parameter int ACT_W   = 8,
    parameter int ACC_W   = 32,
    localparam int GROUPS = NEURONS / LANES,
    localparam int G_W    = GROUPS > 1 ? $clog2(GROUPS) : 1,
    localparam int L_W    = LANES > 1 ? $clog2(LANES) : 1,
    localparam int POS_W  = ACT_W > 1 ? $clog2(ACT_W) : 1,
    // Wide enough for w * x (unsigned x) and for ±(w << p) with p < 2^POS_W.
    localparam int TERM_W = W_W + (1 << POS_W) + 1
) (
    input  logic                   clk,
    input  logic                   rst_n,      // synchronous: clears every accumulator
    input  logic                   acc_en,     // event or partial-sum beat for group `group`
    input  logic                   clear_en,   // tick beat: group `group` starts the next token at 0
    input  logic [G_W-1:0]         group,
    input  logic [1:0]             kind,
    input  logic [ACT_W-1:0]       value,
    input  logic [LANES*W_W-1:0]   weights,
    input  logic                   psum_en,    // the beat is a partial sum (with acc_en)
    input  logic [L_W-1:0]         psum_lane,
    input  logic [ACC_W-1:0]       psum_value,
    output logic [LANES*ACC_W-1:0] rd_acc
);
    localparam logic [1:0] KIND_BINARY    = 2'd0;
    localparam logic [1:0] KIND_SIGNED    = 2'd1;
    localparam logic [1:0] KIND_UNSIGNED  = 2'd2;
    localparam logic [1:0] KIND_BITSERIAL = 2'd3;
`ifndef SPIKETILE_MUTANT_5
    localparam logic signed [ACC_W:0] ACC_MAX = {2'b00, {(ACC_W - 1){1'b1}}};
    localparam logic signed [ACC_W:0] ACC_MIN = {2'b11, {(ACC_W - 1){1'b0}}};
`endif

    logic signed [ACC_W-1:0] acc [GROUPS][LANES];

    // The payload decodes once per beat and is shared by every lane. Fixed bit slices are continuous
    // assignments: Icarus Verilog does not take constant selects inside always_comb.
    logic signed [TERM_W-1:0] x;
    logic [POS_W-1:0]         bit_pos;
    logic                     bit_neg;
    assign bit_pos = value[POS_W-1:0];
    assign bit_neg = value[ACT_W-1];
    always_comb begin
        case (kind)
            KIND_SIGNED:   x = TERM_W'($signed(value));
            KIND_UNSIGNED: x = TERM_W'($signed({1'b0, value}));
            default:       x = TERM_W'(1);
        endcase
    end

    logic signed [TERM_W-1:0] term [LANES];
    logic signed [ACC_W:0]    psum;
    logic signed [ACC_W:0]    sum  [LANES];
`ifdef SPIKETILE_MUTANT_7
    assign psum = $signed({1'b0, psum_value});  // zero-extends a negative partial sum
`else
    assign psum = (ACC_W+1)'($signed(psum_value));
`endif
    logic signed [ACC_W-1:0]  next [LANES];
    logic signed [W_W-1:0]    lane_weight [LANES];
    for (genvar l = 0; l < LANES; l++) begin : g_lane
        assign lane_weight[l] = weights[l*W_W +: W_W];
        assign rd_acc[l*ACC_W +: ACC_W] = acc[group][l];
    end
    always_comb begin
        for (int l = 0; l < LANES; l++) begin
            logic signed [TERM_W-1:0] w, shifted;
            w       = TERM_W'(lane_weight[l]);
            shifted = w <<< bit_pos;
            if (kind == KIND_BITSERIAL) term[l] = bit_neg ? -shifted : shifted;
            else if (kind == KIND_BINARY) term[l] = w;
            else term[l] = w * x;
            if (psum_en) sum[l] = (ACC_W+1)'(acc[group][l]) + (psum_lane == L_W'(l) ? psum : '0);
            else         sum[l] = (ACC_W+1)'(acc[group][l]) + (ACC_W+1)'(term[l]);
`ifdef SPIKETILE_MUTANT_5
            next[l] = ACC_W'(sum[l]);  // wraps instead of saturating
`else
            if (sum[l] > ACC_MAX)      next[l] = ACC_W'(ACC_MAX);
            else if (sum[l] < ACC_MIN) next[l] = ACC_W'(ACC_MIN);
            else                       next[l] = ACC_W'(sum[l]);
`endif
        end
    end

`ifndef SYNTHESIS
    // Never a silent wrap: adding a positive term cannot lower an accumulator, nor a negative one
    // raise it (at a rail the sum saturates and stays). Checked independently of how `next` is
    // computed, so a wrapping adder trips it. A checker, not a flop: plain always.
    always @(posedge clk) begin
        if (rst_n && acc_en) begin
            for (int l = 0; l < LANES; l++) begin
                logic signed [ACC_W:0] added;
                added = psum_en ? (psum_lane == L_W'(l) ? psum : '0) : (ACC_W+1)'(term[l]);
                assert ((added >= 0 || next[l] <= acc[group][l]) && (added <= 0 || next[l] >= acc[group][l]))
                    else $error("accumulator_array: lane %0d of group %0d wrapped: %0d + %0d gave %0d", l, group,
                                acc[group][l], added, next[l]);
            end
        end
    end
`endif

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            for (int g = 0; g < GROUPS; g++)
                for (int l = 0; l < LANES; l++) acc[g][l] <= '0;
        end else if (acc_en) begin
            for (int l = 0; l < LANES; l++) acc[group][l] <= next[l];
        end else if (clear_en) begin
            for (int l = 0; l < LANES; l++) acc[group][l] <= '0;
        end
    end
endmodule

`default_nettype wire
