import { Checkout } from "@/components/Checkout";

export const metadata = { title: "Checkout · Demo shop" };

export default function CheckoutPage() {
  return <Checkout />;
}
