// q::requantize(acc, {mantissa, shift}, OUT_W) for one neuron lane, bit for bit:
//   p = acc * mantissa                         (exact, ACC_W + MANT_W bits)
//   r = round_shift(p, shift)                  (half away from zero; shift <= 0 multiplies by 2^-shift)
//   current = sat_OUT_W(r)
// Two pipeline stages (product register, result register): the multiplier is the long path,
// and the rounding/saturation adder chain gets a cycle of its own.
`default_nettype none

module requantizer #(
    parameter int ACC_W   = 32,
    parameter int MANT_W  = 32,
    parameter int SHIFT_W = 8,
    parameter int OUT_W   = 16
) (
    input  logic                      clk,
    input  logic                      en_mul,       // stage enables: a tick beat is in that stage;
    input  logic                      en_round,     // otherwise the registers hold (no toggling)
    input  logic signed [ACC_W-1:0]   acc,
    input  logic signed [MANT_W-1:0]  mantissa,
    input  logic signed [SHIFT_W-1:0] shift,
    output logic signed [OUT_W-1:0]   current       // 2 cycles after its inputs
);
    localparam int P_W = ACC_W + MANT_W;
    // Both factors are signed, so |p| <= 2^(P_W-2): the magnitude plus a rounding half of up to
    // 2^(P_W-1) still fits P_W unsigned bits, and any shift >= P_W rounds to 0.
    localparam int RS_W = $clog2(P_W + 1);
    // Every magnitude >= 2^OUT_W saturates whatever happens after, so the magnitude is clamped
    // there; a left shift (shift <= 0) by up to OUT_W then needs 2·OUT_W + 1 bits.
    localparam int LS_W = $clog2(OUT_W + 1);
    localparam int C_W  = OUT_W + 1;
    localparam int R_W  = 2 * OUT_W + 2;
    localparam logic [P_W-1:0] CLAMP = P_W'(1) << OUT_W;
`ifndef SPIKETILE_MUTANT_3
    localparam logic signed [R_W-1:0] OUT_MAX = {{(R_W - OUT_W + 1){1'b0}}, {(OUT_W - 1){1'b1}}};
    localparam logic signed [R_W-1:0] OUT_MIN = {{(R_W - OUT_W + 1){1'b1}}, {(OUT_W - 1){1'b0}}};
`endif

    logic signed [P_W-1:0]     prod_q;
    logic signed [SHIFT_W-1:0] shift_q;
    always_ff @(posedge clk) begin
        if (en_mul) begin
            prod_q  <= P_W'(acc) * P_W'(mantissa);
            shift_q <= shift;
        end
    end

    // Rounding in sign-magnitude form: that is what makes "half away from zero" symmetric.
    logic                  neg;
    logic [P_W-1:0]        mag, half, rounded;
    logic [RS_W-1:0]       rs;
    logic [LS_W-1:0]       ls;
    logic [C_W-1:0]        mag_c;
    logic [R_W-1:0]        mag_out;
    logic signed [R_W-1:0] r;
    logic signed [31:0]    sh;   // the shift sign-extended, so that its negation fits
    // Fixed bit slices outside always_comb: Icarus Verilog does not take constant selects there.
    assign neg = prod_q[P_W-1];
    assign sh  = {{(32 - SHIFT_W){shift_q[SHIFT_W-1]}}, shift_q};
    always_comb begin
        mag  = neg ? -prod_q : prod_q;
        rs   = (sh > P_W) ? RS_W'(P_W) : (sh > 0 ? RS_W'(sh) : '0);
        ls   = (-sh > OUT_W) ? LS_W'(OUT_W) : (sh < 0 ? LS_W'(-sh) : '0);
`ifdef SPIKETILE_MUTANT_2
        half = '0;  // truncates instead of rounding
`else
        half = shift_q > 0 ? P_W'(1) << (rs - RS_W'(1)) : '0;
`endif
`ifdef SPIKETILE_MUTANT_4
        // Two's-complement rounding, floor((p + half) / 2^s), is the same as this for p >= 0
        // but rounds -n.5 toward zero: the common bug, in magnitude form.
        if (neg && half != '0) half = half - 1'b1;
`endif
        rounded = (shift_q > 0) ? (mag + half) >> rs : mag;
        mag_c   = rounded >= CLAMP ? C_W'(CLAMP) : C_W'(rounded);
        mag_out = R_W'(mag_c) << ls;
        r       = neg ? -$signed(mag_out) : $signed(mag_out);
    end

`ifdef SPIKETILE_MUTANT_3
    wire unused_high_bits = ^r[R_W-1:OUT_W];  // what the wrap drops
`endif
    always_ff @(posedge clk) begin
        if (en_round) begin
`ifdef SPIKETILE_MUTANT_3
            current <= r[OUT_W-1:0];  // wraps instead of saturating
`else
            if (r > OUT_MAX)      current <= OUT_MAX[OUT_W-1:0];
            else if (r < OUT_MIN) current <= OUT_MIN[OUT_W-1:0];
            else                  current <= r[OUT_W-1:0];
`endif
        end
    end
endmodule

`default_nettype wire
