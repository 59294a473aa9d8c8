import { CartView } from "@/components/CartView";

export const metadata = { title: "Cart · Demo shop" };

export default function CartPage() {
  return <CartView />;
}
